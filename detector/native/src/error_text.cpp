#include "error_text.hpp"

namespace qc {

std::string cut_utf8(const std::string& text, size_t limit) {
    if (text.size() <= limit) return text;
    size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // a continuation byte
    return text.substr(0, end);
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
    for (char c : text) {
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
