#include "kotaro/error.h"

namespace kotaro {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::FileIo: return "FILE_IO";
    case ErrorCode::GgufMalformed: return "GGUF_MALFORMED";
    case ErrorCode::GgufUnsupported: return "GGUF_UNSUPPORTED";
    case ErrorCode::ModelMismatch: return "MODEL_MISMATCH";
    case ErrorCode::OutOfMemory: return "OUT_OF_MEMORY";
    case ErrorCode::Cuda: return "CUDA_ERROR";
    case ErrorCode::Cancelled: return "CANCELLED";
    case ErrorCode::Internal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace kotaro
