#include "error_text.hpp"

namespace qc {

std::string cut_utf8(const std::string& text, size_t limit) {
    if (text.size() <= limit) return text;
    size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // a continuation byte
    return text.substr(0, end);
}

std::string valid_utf8(const std::string& text) {
    static const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
    std::string out;
    out.reserve(text.size());
    size_t i = 0, n = text.size();
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    while (i < n) {
        unsigned char b = byte(i);
        if (b < 0x80) { out += char(b); ++i; continue; }
        int need = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range (Unicode's table 3-7)
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b == 0xE0) need = 2, lo = 0xA0;
        else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) need = 2;
        else if (b == 0xED) need = 2, hi = 0x9F;
        else if (b == 0xF0) need = 3, lo = 0x90;
        else if (b >= 0xF1 && b <= 0xF3) need = 3;
        else if (b == 0xF4) need = 3, hi = 0x8F;
        size_t j = i + 1;
        int got = 0;
        while (got < need && j < n && byte(j) >= lo && byte(j) <= hi) ++j, ++got, lo = 0x80, hi = 0xBF;
        if (need && got == need) out.append(text, i, j - i);
        else out += kReplacement;  // the maximal ill-formed part, as Python's decode(errors="replace")
        i = j;
    }
    return out;
}

std::string middle_cut(const std::string& text, size_t limit) {
    static const std::string kEllipsis = "\xE2\x80\xA6";  // U+2026
    if (text.size() <= limit) return text;
    size_t room = limit - kEllipsis.size();
    size_t start = text.size() - (room - room / 2);
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;  // continuation
    return cut_utf8(text, room / 2) + kEllipsis + text.substr(start);
}

std::string error_text(const std::string& text, size_t limit) {
    static const std::string kEllipsis = "\xE2\x80\xA6";  // U+2026
    std::string line;
    bool in_control = false;
    for (char c : valid_utf8(text)) {
        auto byte = static_cast<unsigned char>(c);
        bool control = byte < 0x20 || byte == 0x7F;
        if (control && !in_control) line += ' ';
        else if (!control) line += c;
        in_control = control;
    }
    size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    line = line.substr(first, line.find_last_not_of(' ') - first + 1);
    if (line.size() <= limit) return line;
    return cut_utf8(line, limit - kEllipsis.size()) + kEllipsis;
}

}  // namespace qc
