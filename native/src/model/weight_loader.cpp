#include "model/weight_loader.h"

#include <vector>

#include "kotaro/quant.h"

namespace kotaro {

const GgufTensor& WeightLoader::checked(const std::string& name, const int64_t (&ne)[4]) const {
  const GgufTensor& t = file_.tensor(name);
  for (int d = 0; d < 4; ++d) {
    if (t.ne[d] != ne[d]) {
      std::string want = "[";
      int dims = 4;
      while (dims > 1 && ne[dims - 1] == 1) --dims;
      for (int k = 0; k < dims; ++k) want += (k ? ", " : "") + std::to_string(ne[k]);
      fail(ErrorCode::ModelMismatch, "'" + file_.path() + "': tensor '" + name + "' has shape " + t.shape_string() +
                                         ", expected " + want + "]");
    }
  }
  const TypeTraits traits = type_traits(t.type_id);
  if (!traits.supported)
    fail(ErrorCode::GgufUnsupported, "'" + file_.path() + "': tensor '" + name + "' has type " + traits.name +
                                         ", which the engine cannot compute with");
  return t;
}

Weight WeightLoader::matrix(const std::string& name, int64_t n_in, int64_t n_out) const {
  const GgufTensor& t = checked(name, {n_in, n_out, 1, 1});
  if (plan_) {
    *plan_ += backend_.weight_bytes(t.type, n_in, n_out);
    return Weight();
  }
  return backend_.upload_weight(name, t.type, n_in, n_out, t.data, file_.mapping());
}

std::vector<float> WeightLoader::host_floats(const std::string& name, const int64_t (&ne)[4]) const {
  const GgufTensor& t = checked(name, ne);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const int64_t row = t.ne[0], rows = t.n_elements() / (row == 0 ? 1 : row);
  const size_t rb = row_size(t.type, row);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t.type, t.data + r * rb, out.data() + r * row, row);
  return out;
}

Weight WeightLoader::f32_matrix(const std::string& name, int64_t n_in, int64_t n_out,
                               const std::function<std::vector<float>()>& build) const {
  if (plan_) {
    *plan_ += backend_.weight_bytes(GgmlType::F32, n_in, n_out);
    return Weight();
  }
  const std::vector<float> values = build();
  if (static_cast<int64_t>(values.size()) != n_in * n_out)
    fail(ErrorCode::Internal, "f32_matrix '" + name + "': built the wrong number of values");
  return backend_.upload_weight(name, GgmlType::F32, n_in, n_out, values.data(), nullptr);
}

Tensor WeightLoader::vector(const std::string& name, int64_t n) const {
  if (plan_) {
    checked(name, {n, 1, 1, 1});
    *plan_ += backend_.tensor_bytes(1, n);
    return Tensor();
  }
  std::vector<float> v = host_floats(name, {n, 1, 1, 1});
  Tensor t = backend_.alloc(DType::F32, 1, n, MemoryCategory::Weights);
  backend_.upload(v.data(), t);
  return t;
}

Tensor WeightLoader::optional_vector(const std::string& name, int64_t n) const {
  return has(name) ? vector(name, n) : Tensor();
}

}  // namespace kotaro
