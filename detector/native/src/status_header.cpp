#include "status_header.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "logging.hpp"
#include "status_file.hpp"
#include "wire.hpp"

namespace qc {

namespace {

using Kind = Value::Kind;

constexpr size_t kFaultMax = 300;  // common/protocol_schema.py FAULT_MAX
constexpr size_t kNoteMax = 160;   // bytes of a fault that name the values fixed; the camera's own fault keeps the rest
constexpr int kPlainDepth = 8;     // an extra field nests at most this deep
constexpr const char* kUnknownState = "unknown";

// The first `limit` bytes of `text` without splitting a UTF-8 character.
std::string cut(const std::string& text, size_t limit) {
    if (text.size() <= limit) return text;
    size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end);
}

// A float as Python's repr(): the shortest digits that read back, fixed notation for exponents -4..15.
std::string float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[40];
    for (int digits = 0; digits <= 16; ++digits) {  // d.ddde+XX with as few digits as round-trip
        std::snprintf(buf, sizeof buf, "%.*e", digits, x);
        if (std::strtod(buf, nullptr) == x) break;
    }
    std::string text = buf, sign = text[0] == '-' ? "-" : "";
    size_t e = text.find('e');
    std::string mantissa = text.substr(sign.size(), e - sign.size());
    int exponent = std::atoi(text.c_str() + e + 1);
    std::string digits;
    for (char c : mantissa) if (c != '.') digits += c;
    if (exponent < -4 || exponent >= 16) {
        std::string rest = digits.substr(1);
        char exp[16];
        std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        return sign + digits.substr(0, 1) + (rest.empty() ? "" : "." + rest) + exp;
    }
    if (exponent < 0) return sign + "0." + std::string(size_t(-exponent - 1), '0') + digits;
    if (size_t(exponent) + 1 >= digits.size())
        return sign + digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
    return sign + digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
}

// A value as Python's repr() shows it in status_header.py's notes ("fps inf sent as 1000.0").
std::string repr(const Value& v) {
    switch (v.kind) {
        case Kind::Bool: return v.b ? "True" : "False";
        case Kind::Int: return std::to_string(v.i);
        case Kind::Float: return float_repr(v.f);
        case Kind::Str: return (v.s.find('\'') != std::string::npos && v.s.find('"') == std::string::npos)
                                   ? "\"" + v.s + "\"" : "'" + v.s + "'";
        case Kind::Array: {
            std::string out = "[";
            for (size_t k = 0; k < v.a.size(); ++k) out += (k ? ", " : "") + repr(v.a[k]);
            return out + "]";
        }
        case Kind::Map: return "{...}";
        default: return v.s == "nil" ? "None" : "<" + v.s + ">";
    }
}

std::string show(const Value& v) { return cut(repr(v), 40); }

// Data the encoder writes and the receiver's shape check takes: text keys, 64-bit ints, finite nesting, no nil.
bool plain(const Value& v, int depth) {
    switch (v.kind) {
        case Kind::Bool: case Kind::Int: case Kind::Float: case Kind::Str: return true;
        case Kind::Array:
            if (depth >= kPlainDepth) return false;
            for (const auto& x : v.a) if (!plain(x, depth + 1)) return false;
            return true;
        case Kind::Map:
            if (depth >= kPlainDepth) return false;
            for (const auto& [k, x] : v.m) if (!plain(x, depth + 1)) return false;
            return true;
        default: return false;  // nil (never sent: docs/protocol.md section 3), a Big int, bin or ext
    }
}

bool is_token(const std::string& s) { return !wire::camera_status_problem("state", Value::text(s)).size(); }

// The nearest value `rule` accepts, or an Other value when there is none (NaN, a wrong kind).
Value fit(const wire::FieldRule& rule, const Value& v) {
    if (rule.kind == Kind::Int || rule.kind == Kind::Float) {
        if (v.kind != Kind::Int && v.kind != Kind::Float) return {};
        double x = v.kind == Kind::Int ? double(v.i) : v.f;
        if (std::isnan(x)) return {};
        if (rule.kind == Kind::Float) return Value::real(std::min(std::max(x, rule.lo), rule.hi));
        if (v.kind == Kind::Int && double(v.i) >= rule.lo && double(v.i) <= rule.hi) return v;
        if (x >= rule.hi) return Value::integer(rule.hi >= 9.2e18 ? INT64_MAX : int64_t(rule.hi));
        if (x <= rule.lo) return Value::integer(int64_t(rule.lo));
        return Value::integer(int64_t(x));  // a float in range, toward zero as Python's int()
    }
    if (rule.kind == Kind::Str && v.kind == Kind::Str) {
        if (rule.max_bytes) return Value::text(cut(v.s, rule.max_bytes));
        std::string lowered;  // a token: stripped and lowercased, then it must be one
        size_t from = v.s.find_first_not_of(" \t\r\n\f\v"), to = v.s.find_last_not_of(" \t\r\n\f\v");
        if (from != std::string::npos)
            for (char c : v.s.substr(from, to - from + 1)) lowered += char(std::tolower(static_cast<unsigned char>(c)));
        return is_token(lowered) ? Value::text(lowered) : Value{};
    }
    return {};
}

Value required_default(const std::string& key) {
    if (key == "state") return Value::text(kUnknownState);
    if (key == "fps") return Value::real(0.0);
    return Value::integer(0);  // frames, dropped
}

const char* const kRequired[] = {"state", "fps", "frames", "dropped"};

}  // namespace

Value fit_camera_status(const Value& status, std::vector<std::string>& fixed) {
    Value fitted = Value::map();
    for (const auto& [key, value] : status.m) {
        const wire::FieldRule* rule = wire::camera_status_rule(key);
        if (rule == nullptr) {  // not in the schema: receivers ignore it, but it must still encode
            if (plain(value, 1)) fitted[key] = value;
            else fixed.push_back(key + " dropped (not plain data)");
            continue;
        }
        if (wire::camera_status_problem(key, value).empty() && (rule->kind != Kind::Map || plain(value, 1))) {
            fitted[key] = value;
            continue;
        }
        Value fixed_value = fit(*rule, value);
        bool none = fixed_value.kind == Kind::Other;
        if (none && rule->required) fixed_value = required_default(key), none = false;
        if (!none) fitted[key] = fixed_value;
        if (key != "fault")  // a fault cut to its limit is not news
            fixed.push_back(key + " " + show(value) + " " + (none ? "dropped" : "sent as " + repr(fixed_value)));
    }
    for (const char* key : kRequired) {
        if (fitted.has(key)) continue;
        fitted[key] = required_default(key);
        fixed.push_back(std::string(key) + " missing, sent as " + repr(fitted[key]));
    }
    if (!fixed.empty()) {
        std::string joined;
        for (const auto& f : fixed) joined += (joined.empty() ? "" : "; ") + f;
        std::string note = cut("status value(s) the protocol refuses: " + joined, kNoteMax);
        std::string own = fitted.has("fault") ? cut(fitted["fault"].s, kFaultMax - note.size() - 2) : "";
        fitted["fault"] = Value::text(own.empty() ? note : own + "; " + note);
    }
    return fitted;
}

std::string fit_statuses_json(const std::string& msgpack_map) {
    Value cases = wire::unpack_header(msgpack_map), out = Value::map();
    for (const auto& [name, status] : cases.m) {
        std::vector<std::string> fixed;
        Value fitted = fit_camera_status(status, fixed);
        Value notes = Value::array();
        for (const auto& f : fixed) notes.a.push_back(Value::text(f));
        out[name] = Value::map({{"fitted", fitted}, {"fixed", notes}});
    }
    return to_json(out);
}

Value StatusHeaders::build(int64_t outbox_depth, int64_t outbox_bytes, int64_t refused, bool stopping) {
    Value header = wire::make_header("status");
    header["outbox_depth"] = Value::integer(outbox_depth);
    header["outbox_bytes"] = Value::integer(outbox_bytes);
    header["refused"] = Value::integer(refused);
    if (stopping) header["stopping"] = Value::boolean(true);
    Value statuses;
    try {
        statuses = camera_status_();
    } catch (const std::exception& e) {  // a bug in a camera's status must not stop the link
        return minimal(Value::map(), std::string("the camera status failed (") + e.what() + ")", "camera_status",
                       header);
    }
    Value cameras = Value::map();
    std::vector<std::pair<std::string, std::string>> fixed;
    for (const auto& [camera, status] : statuses.m) {
        std::vector<std::string> problems;
        cameras[camera] = fit_camera_status(status.is(Kind::Map) ? status : Value::map(), problems);
        for (auto& p : problems) fixed.emplace_back(camera, std::move(p));
    }
    Value full = header;
    full["cameras"] = cameras;
    std::string problem;
    try {
        if (wire::encode_header(full).size() > wire::kMaxHeaderBytes)
            problem = "header is over the protocol's " + std::to_string(wire::kMaxHeaderBytes) + " bytes";
    } catch (const wire::ProtocolError& e) {
        problem = e.text;
    } catch (const std::exception& e) {
        problem = std::string("header does not encode (") + e.what() + ")";
    }
    if (!problem.empty()) return minimal(statuses, problem, problem.substr(0, problem.find(':')), header);
    if (!fixed.empty()) {
        ++bad_status_;
        std::string fresh;
        for (const auto& [camera, p] : fixed) {
            std::string key = camera + ":" + p.substr(0, p.find(' '));
            if (!said_.insert(key).second) continue;
            fresh += (fresh.empty() ? "camera " : "; camera ") + camera + ": " + p;
        }
        if (!fresh.empty())
            log::warning("link: status values the protocol refuses, fixed before sending (footage is not held up; "
                         "logged once per field, counted as link.bad_status): ", fresh);
    }
    return full;
}

Value StatusHeaders::minimal(const Value& statuses, const std::string& problem, const std::string& key, Value header) {
    ++bad_status_;
    if (said_.insert(key).second)
        log::error("link: cannot send this detector's status as it is (", problem, "); sending each camera's state "
                   "alone (logged once, counted as link.bad_status); footage is not held up");
    Value cameras = Value::map();
    for (const auto& camera : cameras_) {
        std::string state = kUnknownState;
        if (statuses.has(camera) && statuses.at(camera).has("state") && statuses.at(camera).at("state").is(Kind::Str) &&
            is_token(statuses.at(camera).at("state").s))
            state = statuses.at(camera).at("state").s;
        cameras[camera] = Value::map({{"state", Value::text(state)}, {"fps", Value::real(0.0)},
                                      {"frames", Value::integer(0)}, {"dropped", Value::integer(0)},
                                      {"fault", Value::text(cut("status not sent whole: " + problem, kFaultMax))}});
    }
    header["cameras"] = cameras;
    return header;
}

}  // namespace qc
