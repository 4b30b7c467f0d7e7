// A msgpack value as the protocol sees it: the kinds of docs/protocol.md section 3.
//
// Maps are std::map<std::string, Value>: their iteration order is ascending
// UTF-8 bytes (char_traits<char> compares as unsigned char), which is exactly
// the canonical key order, so encoding a Value is canonical by construction.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qc {

struct Value {
    // Big: a msgpack uint 64 above INT64_MAX (a valid msgpack int the protocol refuses).
    // Other: nil, bin, ext: valid msgpack, never a valid field.
    enum class Kind { Other, Bool, Int, Big, Float, Str, Array, Map };
    Kind kind = Kind::Other;
    bool b = false;
    int64_t i = 0;
    double f = 0.0;
    std::string s;  // Str; for Other, the msgpack kind's name
    std::vector<Value> a;
    std::map<std::string, Value> m;

    Value() = default;
    static Value boolean(bool v) { Value x; x.kind = Kind::Bool; x.b = v; return x; }
    static Value integer(int64_t v) { Value x; x.kind = Kind::Int; x.i = v; return x; }
    static Value real(double v) { Value x; x.kind = Kind::Float; x.f = v; return x; }
    static Value text(std::string v) { Value x; x.kind = Kind::Str; x.s = std::move(v); return x; }
    static Value array(std::vector<Value> v = {}) { Value x; x.kind = Kind::Array; x.a = std::move(v); return x; }
    static Value map(std::map<std::string, Value> v = {}) { Value x; x.kind = Kind::Map; x.m = std::move(v); return x; }

    bool is(Kind k) const { return kind == k; }
    bool has(const std::string& key) const { return kind == Kind::Map && m.count(key) > 0; }
    const Value& at(const std::string& key) const { return m.at(key); }
    Value& operator[](const std::string& key) { return m[key]; }
    bool operator==(const Value& o) const;
};

}  // namespace qc
