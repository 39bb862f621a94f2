// A small, strict JSON reader for the tools and tests (fixture manifests). Not used by the
// engine itself. Throws std::runtime_error with the byte offset on bad input.
#pragma once
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kotaro_tools {

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;  // file order

  const Json* find(const std::string& key) const {
    for (const auto& kv : obj)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const Json& at(const std::string& key) const {
    const Json* j = find(key);
    if (!j) throw std::runtime_error("json: missing key '" + key + "'");
    return *j;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  Json parse() {
    Json j = value();
    ws();
    if (p_ != s_.size()) error("trailing characters");
    return j;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    throw std::runtime_error("json: " + what + " at offset " + std::to_string(p_));
  }
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
  }
  bool eat(const char* lit) {
    const size_t n = std::char_traits<char>::length(lit);
    if (s_.compare(p_, n, lit) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }
  Json value() {
    ws();
    if (p_ >= s_.size()) error("unexpected end");
    Json j;
    const char c = s_[p_];
    if (c == '{') {
      j.kind = Json::Kind::Object;
      ++p_;
      ws();
      if (p_ < s_.size() && s_[p_] == '}') { ++p_; return j; }
      for (;;) {
        ws();
        if (p_ >= s_.size() || s_[p_] != '"') error("expected a key");
        std::string k = string();
        ws();
        if (p_ >= s_.size() || s_[p_] != ':') error("expected ':'");
        ++p_;
        j.obj.emplace_back(std::move(k), value());
        ws();
        if (p_ < s_.size() && s_[p_] == ',') { ++p_; continue; }
        if (p_ < s_.size() && s_[p_] == '}') { ++p_; return j; }
        error("expected ',' or '}'");
      }
    }
    if (c == '[') {
      j.kind = Json::Kind::Array;
      ++p_;
      ws();
      if (p_ < s_.size() && s_[p_] == ']') { ++p_; return j; }
      for (;;) {
        j.arr.push_back(value());
        ws();
        if (p_ < s_.size() && s_[p_] == ',') { ++p_; continue; }
        if (p_ < s_.size() && s_[p_] == ']') { ++p_; return j; }
        error("expected ',' or ']'");
      }
    }
    if (c == '"') {
      j.kind = Json::Kind::String;
      j.str = string();
      return j;
    }
    if (eat("true")) { j.kind = Json::Kind::Bool; j.b = true; return j; }
    if (eat("false")) { j.kind = Json::Kind::Bool; return j; }
    if (eat("null")) return j;
    const size_t start = p_;
    while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || s_[p_] == '-' || s_[p_] == '+' ||
                              s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E'))
      ++p_;
    if (start == p_) error("unexpected character");
    j.kind = Json::Kind::Number;
    j.num = std::stod(s_.substr(start, p_ - start));
    return j;
  }
  void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 63)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 63));
      out += static_cast<char>(0x80 | (cp & 63));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 63));
      out += static_cast<char>(0x80 | ((cp >> 6) & 63)); out += static_cast<char>(0x80 | (cp & 63));
    }
  }
  uint32_t hex4() {
    if (p_ + 4 > s_.size()) error("short \\u escape");
    const uint32_t v = static_cast<uint32_t>(std::stoul(s_.substr(p_, 4), nullptr, 16));
    p_ += 4;
    return v;
  }
  std::string string() {
    ++p_;  // opening quote
    std::string out;
    while (p_ < s_.size() && s_[p_] != '"') {
      char c = s_[p_++];
      if (c != '\\') { out += c; continue; }
      if (p_ >= s_.size()) error("bad escape");
      c = s_[p_++];
      switch (c) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && p_ + 6 <= s_.size() && s_[p_] == '\\' && s_[p_ + 1] == 'u') {
            p_ += 2;
            const uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
    if (p_ >= s_.size()) error("unterminated string");
    ++p_;
    return out;
  }

  const std::string& s_;
  size_t p_ = 0;
};

}  // namespace kotaro_tools
