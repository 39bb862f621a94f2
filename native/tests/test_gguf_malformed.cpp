// Hostile GGUF files: every one must give a clean kotaro::Error with the right code (no
// crash, no read outside the file; run under valgrind to check the latter). Also a fuzz
// loop of random byte mutations and truncations of a valid file.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>

#include "kotaro/gguf.h"
#include "test_gguf_writer.h"

using namespace gguf_test;
using kotaro::ErrorCode;

static int failures = 0, checks = 0;
static std::string dir;

// Opens `bytes` as a file; returns the error code, or nullopt when it parsed.
static std::optional<ErrorCode> open_bytes(const std::vector<uint8_t>& bytes, std::string* message = nullptr,
                                           std::shared_ptr<kotaro::GgufFile>* out = nullptr) {
  const std::string path = dir + "/case.gguf";
  write_file(path, bytes);
  try {
    auto f = kotaro::GgufFile::open(path);
    if (out) *out = f;
    return std::nullopt;
  } catch (const kotaro::Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
}

static void expect(const char* what, const std::vector<uint8_t>& bytes, ErrorCode code, const char* needle = nullptr) {
  ++checks;
  std::string msg;
  const auto got = open_bytes(bytes, &msg);
  if (!got) {
    ++failures;
    std::printf("FAIL %s: parsed, expected %s\n", what, kotaro::error_code_name(code));
  } else if (*got != code) {
    ++failures;
    std::printf("FAIL %s: got %s (%s), expected %s\n", what, kotaro::error_code_name(*got), msg.c_str(),
                kotaro::error_code_name(code));
  } else if (needle && msg.find(needle) == std::string::npos) {
    ++failures;
    std::printf("FAIL %s: message '%s' does not mention '%s'\n", what, msg.c_str(), needle);
  }
}

static void with(const char* what, const std::function<void(Spec&)>& edit, ErrorCode code, const char* needle = nullptr) {
  Spec s = valid_spec();
  edit(s);
  expect(what, build(s), code, needle);
}

static void hostile_headers() {
  const auto M = ErrorCode::GgufMalformed, U = ErrorCode::GgufUnsupported;
  with("bad magic", [](Spec& s) { s.magic = "GGUX"; }, M, "magic");
  with("version 1", [](Spec& s) { s.version = 1; }, U, "version");
  with("version 4", [](Spec& s) { s.version = 4; }, U, "version");
  with("version 0", [](Spec& s) { s.version = 0; }, U, "version");
  with("big-endian version", [](Spec& s) { s.version = 3u << 24; }, U, "big-endian");
  with("absurd kv count", [](Spec& s) { s.n_kv = 1ull << 62; }, M, "metadata count");
  with("kv count max", [](Spec& s) { s.n_kv = ~0ull; }, M, "metadata count");
  with("absurd tensor count", [](Spec& s) { s.n_tensors = 1ull << 60; }, M, "tensor count");
  with("one kv too many", [](Spec& s) { s.n_kv = s.kvs.size() + 1; }, M);
  with("one tensor too many", [](Spec& s) { s.n_tensors = s.tensors.size() + 1; }, M);
}

static void hostile_metadata() {
  const auto M = ErrorCode::GgufMalformed, U = ErrorCode::GgufUnsupported;
  with("duplicate key", [](Spec& s) { s.kvs.push_back({"qwen2.block_count", 4, v_u32(4)}); }, M, "duplicate metadata key 'qwen2.block_count'");
  with("empty key", [](Spec& s) { s.kvs.push_back({"", 4, v_u32(4)}); }, M, "empty metadata key");
  with("unknown value type", [](Spec& s) { s.kvs.push_back({"x.y", 13, v_u32(4)}); }, M, "unknown value type 13");
  with("huge value type", [](Spec& s) { s.kvs.push_back({"x.y", 0xFFFFFFFFu, v_u32(4)}); }, M, "x.y");
  with("huge string length", [](Spec& s) { s.kvs.push_back({"x.s", 8, Bytes().put<uint64_t>(1ull << 62).b}); }, M, "x.s");
  with("string length max", [](Spec& s) { s.kvs.push_back({"x.s", 8, Bytes().put<uint64_t>(~0ull).b}); }, M, "x.s");
  {
    // The first key's length field claims 2^63 bytes.
    Bytes b;
    b.b = {'G', 'G', 'U', 'F'};
    b.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).put<uint64_t>(1ull << 63);
    b.b.resize(b.b.size() + 64, 'k');
    expect("huge key length", b.b, M, "metadata key #0");
  }
  with("bool of value 2", [](Spec& s) { s.kvs.push_back({"x.b", 7, v_bool(2)}); }, M, "x.b");
  with("array of unknown elements", [](Spec& s) { s.kvs.push_back({"x.a", 9, v_arr<uint32_t>(77, {1})}); }, M, "unknown element type 77");
  with("nested array", [](Spec& s) { s.kvs.push_back({"x.a", 9, v_arr<uint32_t>(9, {1})}); }, U, "nested");
  with("huge array count", [](Spec& s) { s.kvs.push_back({"x.a", 9, Bytes().put<uint32_t>(4).put<uint64_t>(1ull << 61).b}); }, M, "x.a");
  with("array count overflowing bytes", [](Spec& s) { s.kvs.push_back({"x.a", 9, Bytes().put<uint32_t>(10).put<uint64_t>(~0ull / 4).b}); }, M, "x.a");
  with("huge string array count", [](Spec& s) { s.kvs.push_back({"x.a", 9, Bytes().put<uint32_t>(8).put<uint64_t>(1ull << 59).b}); }, M, "x.a");
  with("string array element too long", [](Spec& s) {
    s.kvs.push_back({"x.a", 9, Bytes().put<uint32_t>(8).put<uint64_t>(2).str("ok").put<uint64_t>(1ull << 40).b});
  }, M, "element 1 of key 'x.a'");
  with("bool array element 9", [](Spec& s) { s.kvs.push_back({"x.a", 9, v_arr<uint8_t>(7, {1, 0, 9})}); }, M, "x.a");
  with("alignment not a power of two", [](Spec& s) { s.kvs[1].value = v_u32(48); }, M, "general.alignment");
  with("alignment zero", [](Spec& s) { s.kvs[1].value = v_u32(0); }, M, "general.alignment");
  with("alignment of wrong type", [](Spec& s) { s.kvs[1] = {"general.alignment", 10, v_u64(32)}; }, M, "general.alignment");
}

static void hostile_tensors() {
  const auto M = ErrorCode::GgufMalformed, U = ErrorCode::GgufUnsupported;
  with("duplicate tensor", [](Spec& s) { s.tensors.push_back({"a.weight", {8}, 0, 192}); }, M, "duplicate tensor 'a.weight'");
  with("empty tensor name", [](Spec& s) { s.tensors.push_back({"", {8}, 0, 192}); }, M);
  with("zero dims", [](Spec& s) { s.tensors.push_back({"d", {}, 0, 192}); }, M, "tensor 'd' has 0 dimensions");
  with("five dims", [](Spec& s) { s.tensors.push_back({"d", {1, 1, 1, 1, 1}, 0, 192}); }, M, "tensor 'd' has 5 dimensions");
  with("negative dim", [](Spec& s) { s.tensors.push_back({"d", {8, -1}, 0, 192}); }, M, "negative dimension");
  with("overflowing dims", [](Spec& s) { s.tensors.push_back({"d", {1ll << 40, 1ll << 40}, 0, 192}); }, M, "overflows");
  with("overflowing dims 4", [](Spec& s) { s.tensors.push_back({"d", {1 << 16, 1 << 16, 1 << 16, 1 << 16}, 0, 192}); }, M, "overflows");
  with("size overflow", [](Spec& s) { s.tensors.push_back({"d", {1ll << 62, 1}, 0, 192}); }, M, "overflows");
  with("unknown type id", [](Spec& s) { s.tensors.push_back({"d", {8}, 99, 192}); }, U, "unknown type id 99");
  with("removed type id 4", [](Spec& s) { s.tensors.push_back({"d", {8}, 4, 192}); }, U, "tensor 'd'");
  with("row not a block multiple", [](Spec& s) { s.tensors.push_back({"d", {20}, 8, 192}); }, M, "block size");
  with("misaligned offset", [](Spec& s) { s.tensors[2].offset = 100; }, M, "alignment");
  with("offset past the end", [](Spec& s) {
    s.tensors[2].offset = 1 << 20;
    s.data_size = 192;
  }, M, "tensor 'c.weight'");
  with("offset overflow", [](Spec& s) { s.tensors[2].offset = ~0ull - 31; }, M, "tensor 'c.weight'");
  with("data one byte short", [](Spec& s) { s.data_size = 96 + 68 - 1; }, M, "outside the file");
  with("overlapping tensors", [](Spec& s) { s.tensors[1].offset = 32; }, M, "overlaps");
  with("large tensor in small file", [](Spec& s) {
    s.tensors.push_back({"big", {1 << 20, 1 << 10}, 0, 192});
    s.data_size = 256;
  }, M, "big");
}

static void truncations() {
  const std::vector<uint8_t> valid = build(valid_spec());
  for (size_t n = 0; n < valid.size(); ++n) {
    std::vector<uint8_t> cut(valid.begin(), valid.begin() + n);
    char what[64];
    std::snprintf(what, sizeof what, "truncated at %zu of %zu", n, valid.size());
    expect(what, cut, ErrorCode::GgufMalformed);
  }
}

// After a successful parse, touch everything the API exposes (valgrind checks the reads).
static uint64_t touch_all(const kotaro::GgufFile& f) {
  uint64_t sum = 0;
  for (const auto& t : f.tensors())
    for (uint64_t i = 0; i < t.bytes; ++i) sum += t.data[i];
  for (const std::string& k : f.keys()) {
    try {
      switch (f.key_type(k)) {
        case kotaro::GgufValueType::String: sum += f.get_string(k).size(); break;
        case kotaro::GgufValueType::Array:
          if (f.array_type(k) == kotaro::GgufValueType::String) sum += f.get_string_array(k).size();
          else if (f.array_type(k) == kotaro::GgufValueType::F32 || f.array_type(k) == kotaro::GgufValueType::F64)
            sum += f.get_float_array(k).size();
          else if (f.array_type(k) != kotaro::GgufValueType::Bool) sum += f.get_int_array(k).size();
          break;
        case kotaro::GgufValueType::F32: case kotaro::GgufValueType::F64: sum += f.get_f32(k) > 0; break;
        case kotaro::GgufValueType::Bool: sum += f.get_bool(k); break;
        default: sum += static_cast<uint64_t>(f.get_i64(k));
      }
    } catch (const kotaro::Error& e) {
      if (e.code() != ErrorCode::ModelMismatch) throw;  // e.g. a u64 above INT64_MAX
    }
  }
  return sum;
}

static void fuzz(int iterations, uint64_t seed) {
  const std::vector<uint8_t> valid = build(valid_spec());
  std::mt19937_64 rng(seed);
  int parsed = 0;
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> b = valid;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[pos] = static_cast<uint8_t>(rng()); break;
        case 1: b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: b[pos] = 0xFF; break;
        default: b.resize(pos); break;  // truncate
      }
      if (b.empty()) break;
    }
    ++checks;
    std::shared_ptr<kotaro::GgufFile> f;
    std::string msg;
    const auto got = open_bytes(b, &msg, &f);
    if (!got) {
      ++parsed;
      try {
        touch_all(*f);
      } catch (const std::exception& e) {
        ++failures;
        std::printf("FAIL fuzz %d: reading a parsed file threw %s\n", it, e.what());
      }
    } else if (*got != ErrorCode::GgufMalformed && *got != ErrorCode::GgufUnsupported) {
      ++failures;
      std::printf("FAIL fuzz %d: code %s (%s)\n", it, kotaro::error_code_name(*got), msg.c_str());
    }
  }
  std::printf("fuzz: %d mutated files, %d still parsed (and were read fully)\n", iterations, parsed);
}

int main(int argc, char** argv) {
  char tmpl[] = "/tmp/kotaro-gguf-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  dir = tmpl;
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 3000;
  try {
    ++checks;
    if (open_bytes(build(valid_spec()))) {
      ++failures;
      std::printf("FAIL the valid file does not parse\n");
    }
    hostile_headers();
    hostile_metadata();
    hostile_tensors();
    truncations();
    fuzz(iterations, 12345);
  } catch (const std::exception& e) {
    ++failures;
    std::printf("FAIL unexpected exception: %s\n", e.what());
  }
  std::remove((dir + "/case.gguf").c_str());
  rmdir(dir.c_str());
  std::printf("%s: %d checks, %d failures\n", failures ? "FAIL" : "PASS", checks, failures);
  return failures ? 1 : 0;
}
