#include "gguf/mapped_file.h"

#include <cerrno>
#include <cstring>

#include "kotaro/error.h"

#if defined(_WIN32)
#include <fstream>
#include <vector>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace kotaro {

#if defined(_WIN32)

MappedFile map_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(ErrorCode::FileIo, "cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes->data()), size))
    fail(ErrorCode::FileIo, "cannot read '" + path + "'");
  MappedFile m;
  m.data = bytes->data();
  m.size = static_cast<uint64_t>(size);
  m.owner = bytes;
  return m;
}

#else

namespace {
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) munmap(addr, size);
  }
};
}  // namespace

MappedFile map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::FileIo, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(ErrorCode::FileIo, "cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::FileIo, "'" + path + "' is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) {
    void* addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      fail(ErrorCode::FileIo, "cannot map '" + path + "': " + std::strerror(e));
    }
    mapping->addr = addr;
  }
  ::close(fd);
  MappedFile m;
  m.data = static_cast<const uint8_t*>(mapping->addr);
  m.size = mapping->size;
  m.owner = mapping;
  return m;
}

#endif

}  // namespace kotaro
