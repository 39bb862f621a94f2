// The GGUF reader on valid files: typed getters, their errors, tensor lookup, and the
// fixtures' llama.cpp files (every key and tensor readable, data inside the file).
#include <cmath>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "../tools/fixture_eval.h"
#include "kotaro/gguf.h"
#include "test_gguf_writer.h"
#include "test_check.h"

using namespace gguf_test;
using kotaro::ErrorCode;


static void synthetic(const std::string& dir) {
  const std::string path = dir + "/valid.gguf";
  const std::vector<uint8_t> bytes = build(valid_spec());
  write_file(path, bytes);
  auto f = kotaro::GgufFile::open(path);
  CHECK(f->version() == 3 && f->alignment() == 32 && f->file_size() == bytes.size(), "header fields");
  CHECK(f->get_string("general.architecture") == "qwen2", "string");
  CHECK(f->get_u32("qwen2.block_count") == 3, "u32");
  CHECK(f->get_i32("test.i32") == -7 && f->get_i64("test.i32") == -7, "i32");
  CHECK(f->get_u64("test.u64") == (1ull << 40), "u64");
  CHECK(f->get_f32("qwen2.rope.freq_base") == 1e6f, "f32");
  CHECK(f->get_bool("test.bool"), "bool");
  CHECK((f->get_int_array("test.ints") == std::vector<int64_t>{4, 6, 6, 0}), "int array");
  CHECK((f->get_float_array("test.floats") == std::vector<float>{0.5f, 0.25f}), "float array");
  CHECK((f->get_string_array("test.strings") == std::vector<std::string>{"a", "", "<|image_pad|>"}), "string array");
  CHECK(f->array_size("test.strings") == 3, "array size");
  CHECK(f->get_u32("missing.key", 42) == 42 && f->get_string("missing.key", "x") == "x", "fallbacks");
  CHECK(f->keys().size() == 10 && f->keys()[0] == "general.architecture", "key order");
  // Wrong types, ranges and missing keys are ModelMismatch.
  CHECK(code_of([&] { f->get_u32("general.architecture"); }) == ErrorCode::ModelMismatch, "string as u32");
  CHECK(code_of([&] { f->get_u32("test.i32"); }) == ErrorCode::ModelMismatch, "negative as u32");
  CHECK(code_of([&] { f->get_i32("test.u64"); }) == ErrorCode::ModelMismatch, "2^40 as i32");
  CHECK(code_of([&] { f->get_string("missing.key"); }) == ErrorCode::ModelMismatch, "missing key");
  CHECK(code_of([&] { f->get_u32("missing.key", 1u); f->get_u32("general.architecture", 1u); }) == ErrorCode::ModelMismatch,
        "present key of the wrong type with a fallback");
  CHECK(code_of([&] { f->get_float_array("test.ints"); }) == ErrorCode::ModelMismatch, "ints as floats");
  CHECK(code_of([&] { f->get_string_array("test.ints"); }) == ErrorCode::ModelMismatch, "ints as strings");
  CHECK(code_of([&] { f->tensor("nope"); }) == ErrorCode::ModelMismatch, "missing tensor");
  // Tensors: shapes, types, absolute offsets and data.
  const kotaro::GgufTensor& a = f->tensor("a.weight");
  const uint64_t data0 = f->data_offset();
  CHECK(data0 % 32 == 0 && a.offset == data0 && a.bytes == 64 && a.n_dims == 2 && a.ne[0] == 8 && a.ne[1] == 2 &&
            a.ne[2] == 1 && a.type == kotaro::GgmlType::F32,
        "a.weight info");
  CHECK(a.data[0] == 1 && a.data[1] == 8, "a.weight data");  // the writer's byte pattern i*7+1
  const kotaro::GgufTensor& c = f->tensor("c.weight");
  CHECK(c.type == kotaro::GgmlType::Q8_0 && c.bytes == 68 && c.offset == data0 + 96 && c.shape_string() == "[32, 2]",
        "c.weight info");
  CHECK(f->find_tensor("nope") == nullptr, "find_tensor");
  // A file that does not exist is FileIo.
  CHECK(code_of([&] { kotaro::GgufFile::open(dir + "/does-not-exist.gguf"); }) == ErrorCode::FileIo, "missing file");
  CHECK(code_of([&] { kotaro::GgufFile::open(dir); }) == ErrorCode::FileIo, "a directory");
  std::remove(path.c_str());
}

static void fixtures() {
  const std::string root = kotaro_tools::fixtures_root();
  for (const char* rel : {"tiny-qwen2-a/llamacpp/model-f32.gguf", "tiny-qwen2-a/llamacpp/model-f16.gguf",
                          "tiny-qwen2-a/llamacpp/model-q8_0.gguf", "tiny-qwen25vl-a/llamacpp/model-f32.gguf",
                          "tiny-qwen25vl-a/llamacpp/model-q8_0.gguf", "tiny-qwen25vl-a/llamacpp/mmproj-f32.gguf",
                          "tiny-qwen25vl-a/llamacpp/mmproj-f16.gguf", "tiny-qwen25vl-a/llamacpp/mmproj-q8_0.gguf"}) {
    auto f = kotaro::GgufFile::open(root + "/" + rel);
    uint64_t end = 0;
    for (const auto& t : f->tensors()) end = std::max(end, t.offset + t.bytes);
    CHECK(end <= f->file_size() && !f->tensors().empty(), "%s: tensor data", rel);
    const std::string arch = f->get_string("general.architecture");
    if (arch == "clip") {
      CHECK(f->get_string("clip.projector_type") == "qwen2.5vl_merger", "%s projector", rel);
      CHECK(f->get_u32("clip.vision.n_wa_pattern") == 2 && f->get_float_array("clip.vision.image_mean").size() == 3,
            "%s vision keys", rel);
      CHECK(f->tensor("v.patch_embd.weight").shape_string() == "[14, 14, 3, 64]", "%s patch embed", rel);
    } else {
      CHECK(f->get_string_array("tokenizer.ggml.tokens").size() == 704, "%s vocab", rel);
      CHECK(f->get_u32(arch + ".block_count") >= 2, "%s block count", rel);
      if (arch == "qwen2vl")
        CHECK((f->get_int_array("qwen2vl.rope.dimension_sections") == std::vector<int64_t>{4, 6, 6, 0}), "%s sections", rel);
    }
    std::printf("%-44s %zu keys, %zu tensors, v%u, ok\n", rel, f->keys().size(), f->tensors().size(), f->version());
  }
}

int main() {
  char tmpl[] = "/tmp/kotaro-gguf-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  try {
    synthetic(tmpl);
    fixtures();
  } catch (const std::exception& e) {
    ++failures;
    std::printf("FAIL exception: %s\n", e.what());
  }
  rmdir(tmpl);
  std::printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
