// Loads named GGUF tensors into backend memory with their expected shapes checked
// (ModelMismatch naming the tensor when absent or of the wrong shape; GgufUnsupported
// when its type cannot be computed with).
//
// Planning mode (a `plan` counter given): the same checks, nothing uploaded; the bytes the
// backend would charge for each tensor are added to *plan and empty handles are returned.
// The models run their loading code once this way so Model::load can refuse a model that
// does not fit before uploading any of it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kotaro/gguf.h"
#include "runtime/backend.h"

namespace kotaro {

class WeightLoader {
 public:
  WeightLoader(const GgufFile& file, Backend& backend, uint64_t* plan = nullptr)
      : file_(file), backend_(backend), plan_(plan) {}
  bool planning() const { return plan_ != nullptr; }

  // A matrix with ne = {n_in, n_out} (ggml order), kept in its stored type.
  Weight matrix(const std::string& name, int64_t n_in, int64_t n_out) const;
  // A vector of n elements (norm weight, bias), converted to float32.
  Tensor vector(const std::string& name, int64_t n) const;
  // As vector(), but an empty Tensor when the file has no such tensor.
  Tensor optional_vector(const std::string& name, int64_t n) const;
  // Any tensor's elements as float32 on the host, shape checked against ne.
  std::vector<float> host_floats(const std::string& name, const int64_t (&ne)[4]) const;
  // An F32 [n_out, n_in] matrix computed on the host by `build` (not called when planning).
  Weight f32_matrix(const std::string& name, int64_t n_in, int64_t n_out,
                    const std::function<std::vector<float>()>& build) const;
  // Checks a tensor's shape and type without loading it.
  void check(const std::string& name, const int64_t (&ne)[4]) const { checked(name, ne); }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  const GgufFile& file() const { return file_; }

 private:
  const GgufTensor& checked(const std::string& name, const int64_t (&ne)[4]) const;

  const GgufFile& file_;
  Backend& backend_;
  uint64_t* plan_ = nullptr;
};

}  // namespace kotaro
