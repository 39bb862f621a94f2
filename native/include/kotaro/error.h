// Engine errors: every failure the engine reports carries a stable code (for JS and the UI)
// and a message that names what is wrong. Thrown as kotaro::Error inside the engine; the
// addon turns it into a JS Error with `.code`.
#pragma once
#include <stdexcept>
#include <string>

namespace kotaro {

enum class ErrorCode {
  InvalidArgument,   // a caller passed something out of range
  FileIo,            // open/read/mmap failed
  GgufMalformed,     // the file breaks the GGUF format (truncated, bad offset, overflow, ...)
  GgufUnsupported,   // well-formed but uses something we do not implement (version, type)
  ModelMismatch,     // tensors/metadata missing or of the wrong shape for the architecture
  OutOfMemory,       // host or device allocation failed, or a load does not fit the budget
  Cuda,              // a CUDA runtime error
  Cancelled,         // the caller cancelled the operation
  Internal,          // a bug: an invariant did not hold
};

const char* error_code_name(ErrorCode code);  // "GGUF_MALFORMED", ...

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  const char* code_name() const { return error_code_name(code_); }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace kotaro
