// Loads named GGUF tensors into backend memory with their expected shapes checked
// (ModelMismatch naming the tensor when absent or of the wrong shape; GgufUnsupported
// when its type cannot be computed with).
#pragma once
#include <string>

#include "kotaro/gguf.h"
#include "runtime/backend.h"

namespace kotaro {

class WeightLoader {
 public:
  WeightLoader(const GgufFile& file, Backend& backend) : file_(file), backend_(backend) {}

  // A matrix with ne = {n_in, n_out} (ggml order), kept in its stored type.
  Weight matrix(const std::string& name, int64_t n_in, int64_t n_out) const;
  // A vector of n elements (norm weight, bias), converted to float32.
  Tensor vector(const std::string& name, int64_t n) const;
  // As vector(), but an empty Tensor when the file has no such tensor.
  Tensor optional_vector(const std::string& name, int64_t n) const;
  // Any tensor's elements as float32 on the host, shape checked against ne.
  std::vector<float> host_floats(const std::string& name, const int64_t (&ne)[4]) const;

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  const GgufFile& file() const { return file_; }

 private:
  const GgufTensor& checked(const std::string& name, const int64_t (&ne)[4]) const;

  const GgufFile& file_;
  Backend& backend_;
};

}  // namespace kotaro
