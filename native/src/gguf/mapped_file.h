// Read-only memory mapping of a whole file (POSIX mmap; a plain read elsewhere).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace kotaro {

struct MappedFile {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  // Owns the mapping: the memory stays valid while any copy of `owner` lives.
  std::shared_ptr<const void> owner;
};

// Throws kotaro::Error FileIo naming the path and the system error.
MappedFile map_file(const std::string& path);

}  // namespace kotaro
