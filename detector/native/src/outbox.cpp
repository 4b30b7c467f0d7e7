#include "outbox.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "config.hpp"
#include "logging.hpp"
#include "os_error.hpp"
#include "wire.hpp"

namespace qc {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void os_fail(const std::string& what, const std::string& path, int code = errno) {
    throw OsError(what + " " + path + ": " + std::strerror(code), code);
}

void fsync_path(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) os_fail("cannot open", path);
    ::fsync(fd);
    ::close(fd);
}

// A file's bytes written as they are, without an fsync (a staged header: the commit's own fsyncs follow).
void write_plain(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) os_fail("cannot write", path);
    ssize_t wrote = ::write(fd, data.data(), data.size());
    int code = errno;
    ::close(fd);
    if (wrote != ssize_t(data.size())) os_fail("cannot write", path, wrote < 0 ? code : ENOSPC);
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
        else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
        else out += char(c);
    }
    return out + "\"";
}

// One journal line exactly as Python's json.dumps writes it: ", " and ": ", null for absent.
constexpr off_t kJournalBlock = 1 << 16;  // the journal is read back from its end in blocks this big, at start-up

std::string journal_line(const Value& header) {
    static const char* kFields[] = {"id", "type", "camera", "event", "seq", "time_ms", "start_ms",
                                    "end_ms", "frames", "size", "sha256"};
    std::string line = "{";
    for (const char* name : kFields) {
        if (line.size() > 1) line += ", ";
        line += json_string(name) + ": ";
        if (!header.has(name)) { line += "null"; continue; }
        const Value& v = header.at(name);
        line += v.is(Value::Kind::Str) ? json_string(v.s) : std::to_string(v.i);
    }
    return line + "}\n";
}

}  // namespace

void make_private_dirs(const std::string& path) {
    fs::create_directories(path);
    ::chmod(path.c_str(), 0700);
}

namespace {

// The one line for a lock file that cannot be opened: the OS's words and the fix (common/folder_lock.py's
// lock_unopenable); before, it named no fix.
std::string lock_unopenable(const std::string& root, const std::string& path, int error) {
    std::string fix = error == EACCES || error == EPERM ? "let this user write in " + root + " (chown or chmod it)"
                      : error == EROFS                 ? "its disk is mounted read-only: remount it read-write"
                      : error == ENOSPC || error == EDQUOT ? "its disk is full: free some space"
                                                           : "check that folder and its disk";
    return "cannot open " + path + ": " + std::strerror(error) + "; " + fix +
           ", or set recording.outbox_dir to a folder this user may write in";
}

// The lock's fd, or -1 with `holder` set to the line its holder wrote (its pid).
int take_lock(const std::string& root, std::string& holder) {
    std::string path = root + "/.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw ConfigError(lock_unopenable(root, path, errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[256] = {0};
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        holder = n > 0 ? std::string(buf, size_t(n)) : "?";
        holder = holder.substr(0, holder.find('\n'));
        while (!holder.empty() && holder.back() == ' ') holder.pop_back();
        ::close(fd);
        return -1;
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) != ssize_t(pid.size()))
        log::warning("outbox: cannot write this process's pid into ", path);
    return fd;
}

}  // namespace

int lock_outbox(const std::string& root) {
    // A folder this process may not write in (read-only, another user's) is a setup error, exit 2 as
    // the Python detector's (common/folder_lock.py): nothing could be kept there anyway.
    try {
        make_private_dirs(root);
    } catch (const fs::filesystem_error& e) {
        throw ConfigError("recording.outbox_dir: cannot make the folder " + root + " (" +
                          std::strerror(e.code().value()) +
                          "); set recording.outbox_dir to a folder this user may write in, or make that one "
                          "writable for it");
    }
    std::string holder;
    int fd = take_lock(root, holder);
    if (fd < 0)
        throw ConfigError("the outbox " + root + " is in use by another detector (pid " + holder +
                          "); stop that one, or give each detector its own recording.outbox_dir");
    return fd;
}

void write_durably(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";  // *.tmp leftovers are cleared at start-up
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) os_fail("cannot create", tmp);
    auto fail = [&](const char* what) {  // a full disk keeps no half-written temp file
        int code = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        os_fail(what, tmp, code);
    };
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) fail("cannot write");
        done += size_t(n);
    }
    if (::fsync(fd) != 0) fail("cannot fsync");
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int code = errno;
        ::unlink(tmp.c_str());
        os_fail("cannot rename", tmp, code);
    }
    fsync_path(fs::path(path).parent_path().string(), O_RDONLY | O_DIRECTORY);
}

Outbox::Outbox(const std::string& root, int lock_fd)
    : root_(root), staging_(root + "/.staging"), refused_(root + "/refused"), lock_fd_(lock_fd) {
    for (const auto& dir : {root_, staging_, refused_}) make_private_dirs(dir);
    recover();
}

void Outbox::ensure_folders() {
    make_folders_again();
    keep_lock();
}

bool Outbox::intact() {
    std::error_code ec;
    if (!fs::is_directory(root_, ec) || !fs::is_directory(staging_, ec) || !fs::is_directory(refused_, ec)) return false;
    if (lock_fd_ < 0) return true;
    std::lock_guard<std::mutex> lock(lock_mutex_);
    struct stat on_disk {}, ours {};
    return ::stat((root_ + "/.lock").c_str(), &on_disk) == 0 && ::fstat(lock_fd_, &ours) == 0 &&
           on_disk.st_dev == ours.st_dev && on_disk.st_ino == ours.st_ino;
}

void Outbox::keep_lock() {
    // The lock file deleted (with the folder, or alone) locks nothing: a second detector started then took
    // this outbox beside this one (common/folder_lock.py's FolderLock.keep). Taken again; one line.
    if (lock_fd_ < 0) return;
    std::lock_guard<std::mutex> lock(lock_mutex_);
    struct stat on_disk {}, ours {};
    if (::stat((root_ + "/.lock").c_str(), &on_disk) == 0 && ::fstat(lock_fd_, &ours) == 0 &&
        on_disk.st_dev == ours.st_dev && on_disk.st_ino == ours.st_ino)
        return;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) return;  // make_folders_again makes it, and says what went with it
    std::string holder;
    int fd = -1;
    try {
        fd = take_lock(root_, holder);
    } catch (const ConfigError&) {
        return;  // the folder will not take a file: what writes in it says so
    }
    if (fd < 0) {
        if (holder != lock_taken_by_)
            log::error(root_, ": the lock ", root_, "/.lock was deleted while this detector ran, and another detector "
                       "(pid ", holder, ") took the folder since: two on one folder; stop that one");
        lock_taken_by_ = holder;
        return;
    }
    ::close(lock_fd_);
    lock_fd_ = fd;
    lock_taken_by_.clear();
    log::error(root_, ": the lock ", root_, "/.lock was deleted while this detector ran (with its folder?); took it "
               "again, so that a second detector started on this folder refuses");
}

void Outbox::make_folders_again() {
    auto present = [this] {
        std::error_code ec;
        return fs::is_directory(root_, ec) && fs::is_directory(staging_, ec) && fs::is_directory(refused_, ec);
    };
    if (present()) return;
    size_t gone = 0, waiting = 0;
    std::string moved;  // files made where a folder was (create_directories failed on them): kept, beside
    std::vector<std::string> missing;  // only its subfolders (outbox/.staging, say): its items are safe, and said so
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (present()) return;  // another thread made them meanwhile
        for (const auto& dir : {root_, staging_, refused_}) {
            std::error_code ec;
            if (!fs::is_directory(dir, ec)) missing.push_back(dir);
        }
        for (const auto& dir : {root_, staging_, refused_}) {
            std::error_code ec;
            if (fs::is_directory(dir, ec) || !fs::exists(fs::symlink_status(dir, ec))) continue;
            std::string aside = dir + ".replaced-" + std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                        std::chrono::system_clock::now().time_since_epoch()).count());
            if (::rename(dir.c_str(), aside.c_str()) == 0)
                moved += " and moved the file put in place of " + fs::path(dir).filename().string() + " to " +
                         fs::path(aside).filename().string();
        }
        for (const auto& dir : {root_, staging_, refused_}) make_private_dirs(dir);
        for (auto it = items_.begin(); it != items_.end();) {
            std::error_code ec;
            if (fs::exists(root_ + "/" + it->first + ".hdr", ec)) {
                ++it;
            } else {
                it = items_.erase(it);
                ++gone;
            }
        }
        deleted_ += int64_t(gone);
        waiting = items_.size();
    }
    if (!missing.empty() && missing.front() != root_) {
        std::string names, lost;
        for (const auto& dir : missing) {
            names += (names.empty() ? "" : " and ") + dir;
            lost += std::string(lost.empty() ? "" : " and ") +
                    (dir == staging_ ? "any open segment" : "the items the uploader refused");
        }
        log::error("outbox: the folder ", names, " was deleted while the detector ran (not ", root_, ": the ", waiting,
                   " item(s) waiting in it are safe); made it again", moved, " (", lost, " went with it); recording "
                   "goes on. Do not delete the outbox's folders under a running detector: stop it first");
        return;
    }
    log::error("outbox: the folder ", root_, " was deleted while the detector ran; made it again", moved, " (the ", gone,
               " item(s) waiting in it for the uploader, its journal produced.jsonl and any open segment went with "
               "it); recording goes on. Do not delete the outbox of a running detector: stop it first");
}

void Outbox::recover() {
    std::vector<fs::path> staged_headers;
    for (const auto& entry : fs::directory_iterator(staging_))
        if (entry.path().extension() == ".hdr") staged_headers.push_back(entry.path());
    std::sort(staged_headers.begin(), staged_headers.end());
    for (const auto& staged_header : staged_headers) commit_left(staged_header);
    for (const auto& entry : fs::directory_iterator(staging_)) {
        log::warning("outbox: discarding incomplete file ", entry.path().filename().string(), " left by a crash");
        fs::remove_all(entry.path());
    }
    std::vector<std::string> headers;
    for (const auto& entry : fs::directory_iterator(root_)) {
        auto ext = entry.path().extension().string();
        if (ext == ".tmp") fs::remove(entry.path());
        if (ext == ".hdr") headers.push_back(entry.path().stem().string());
    }
    std::vector<fs::path> orphans;
    for (const auto& entry : fs::directory_iterator(root_)) {
        if (entry.path().extension() == ".bin" &&
            std::find(headers.begin(), headers.end(), entry.path().stem().string()) == headers.end())
            orphans.push_back(entry.path());
    }
    std::set<std::string> wanted(headers.begin(), headers.end()), journaled;
    for (const auto& payload : orphans) wanted.insert(payload.stem().string());
    bool readable = this->journaled(wanted, journaled);
    for (const auto& payload : orphans) {
        std::string name = payload.filename().string(), stem = payload.stem().string();
        if (readable && journaled.count(stem)) {  // committed: its header was deleted by hand (outbox.py's _recover)
            log::error("outbox: ", name, " is in the journal but its header ", stem, ".hdr is gone (deleted by hand?); "
                       "it cannot be sent without it: moved to refused/");
            ++set_aside_;
            std::error_code ec;
            fs::rename(payload, refused_ + "/" + name, ec);
        } else {
            log::warning("outbox: discarding uncommitted payload ", name);
            fs::remove(payload);
        }
    }
    std::sort(headers.begin(), headers.end());
    for (const auto& stem : headers) {
        std::error_code exists_ec;
        if (!fs::exists(root_ + "/" + stem + ".bin", exists_ec)) {  // its payload deleted (or an ack's remove cut short)
            log::error("outbox: item ", stem, " has a header but no payload ", stem, ".bin (deleted by hand, or the "
                       "detector stopped while it removed an acknowledged item); nothing to send: header moved to "
                       "refused/");
            ++set_aside_;
            std::error_code ec;
            fs::rename(root_ + "/" + stem + ".hdr", refused_ + "/" + stem + ".hdr", ec);
            continue;
        }
        try {
            Value header = wire::unpack_header(read_file(root_ + "/" + stem + ".hdr"));
            int64_t size = header.has("size") ? header.at("size").i : 0;
            items_[stem] = {stem, header.at("type").s, size};
            // committed by a run stopped before its journal line (a SIGKILL between the two): journaled before it
            // is sent, else stored with no line (the invariant's "invented"; outbox.py's _journal_late)
            if (readable && !journaled.count(stem)) journal_late(header);
        } catch (const std::exception& e) {
            log::error("outbox: header ", stem, ".hdr is unreadable (", e.what(), "); moved to refused/");
            ++set_aside_;
            for (const char* suffix : {".hdr", ".bin"}) {
                std::error_code ec;
                fs::rename(root_ + "/" + stem + suffix, refused_ + "/" + stem + suffix, ec);
            }
        }
    }
    if (!items_.empty()) log::info("outbox: ", items_.size(), " item(s) from an earlier run will be re-sent");
}

bool Outbox::journaled(const std::set<std::string>& ids, std::set<std::string>& found) {
    found.clear();
    std::set<std::string> missing = ids;
    int fd = ::open((root_ + "/produced.jsonl").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;  // no journal (deleted by hand): every item found is journaled again
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return false;
    }
    off_t end = st.st_size;
    std::string carried;  // the line a block starts inside: read with the block before it
    while (end > 0 && !missing.empty()) {
        off_t start = std::max<off_t>(0, end - kJournalBlock);
        std::string block(size_t(end - start), '\0');
        if (::pread(fd, block.data(), block.size(), start) != ssize_t(block.size())) {
            ::close(fd);
            return false;
        }
        block += carried;
        size_t pos = 0;
        if (start > 0) {
            pos = block.find('\n');
            if (pos == std::string::npos) pos = block.size();
            carried = block.substr(0, pos);
            ++pos;
        }
        static const std::string kStart = "{\"id\": \"";  // both detectors write the id first (journal_line)
        while (pos < block.size()) {
            size_t line_end = block.find('\n', pos);
            if (line_end == std::string::npos) line_end = block.size();
            if (block.compare(pos, kStart.size(), kStart) == 0) {
                size_t from = pos + kStart.size(), quote = block.find('"', from);
                if (quote != std::string::npos && quote < line_end) missing.erase(block.substr(from, quote - from));
            }
            pos = line_end + 1;
        }
        end = start;
    }
    ::close(fd);
    for (const auto& id : ids)
        if (!missing.count(id)) found.insert(id);
    return true;
}

void Outbox::journal_late(const Value& header) {
    const std::string& id = header.at("id").s;
    std::string line = journal_line(header), journal = root_ + "/produced.jsonl";
    int fd = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    bool written = fd >= 0 && ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
    int code = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
        log::error("outbox: item ", id, " was committed but not journaled, and the journal line cannot be written now (",
                   std::strerror(code), "); it is sent all the same");
        return;
    }
    log::warning("outbox: item ", id, " was committed but not journaled (the last run stopped between its header and "
                 "its journal line); journaled now");
}

bool Outbox::forget_missing(const std::string& id) {
    const std::string header = root_ + "/" + id + ".hdr", payload = root_ + "/" + id + ".bin";
    std::error_code ec;
    bool has_header = fs::exists(header, ec), has_payload = fs::exists(payload, ec);
    int64_t deleted = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!items_.count(id) || !fs::is_directory(root_, ec) || (has_header && has_payload)) return false;
        items_.erase(id);
        deleted = ++deleted_;
    }
    std::string gone, kept;
    for (const auto& [path, there] : {std::pair{payload, has_payload}, std::pair{header, has_header}}) {
        std::string name = fs::path(path).filename().string();
        if (there) {
            fs::rename(path, refused_ + "/" + name, ec);
            kept = "; " + name + " moved to refused/";
        } else {
            gone += (gone.empty() ? "" : " and ") + name;
        }
    }
    log::error("outbox: ", gone, " of item ", id, " deleted while the detector ran (by hand?); the item cannot be sent",
               kept, "; ", deleted, " item(s) deleted so far (quickcam status)");
    return true;
}

void Outbox::commit_file(const Value& header, const std::string& staged) {
    // Its header beside it in staging first (a plain write): a commit the process does not live to finish (a
    // stop's time run out on a disk that stopped answering, a kill) is finished at the next start (commit_left).
    const std::string staged_header = staged_header_path(header.at("id").s);
    write_plain(staged_header, wire::encode_header(header));
    fsync_path(staged, O_RDONLY);
    std::string target = root_ + "/" + header.at("id").s + ".bin";
    if (::rename(staged.c_str(), target.c_str()) != 0) os_fail("cannot rename", staged);
    commit_header(header);
    ::unlink(staged_header.c_str());
}

std::string Outbox::staged_header_path(const std::string& id) const { return staging_ + "/" + id + ".hdr"; }

// A finished segment whose commit the last run did not finish (outbox.py's _commit_left): committed now if its bytes
// are the ones its header names, else moved to refused/ with it, said and counted.
void Outbox::commit_left(const fs::path& staged_header) {
    std::string name = staged_header.filename().string(), stem = name.substr(0, name.size() - 4);
    std::vector<fs::path> payloads;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(staging_, ec))
        if (entry.path().stem().string() == stem && entry.path() != staged_header) payloads.push_back(entry.path());
    payloads.push_back(root_ + "/" + stem + ".bin");
    fs::path payload;
    for (const auto& candidate : payloads)
        if (payload.empty() && fs::exists(candidate, ec)) payload = candidate;
    Value header;
    try {
        header = wire::unpack_header(read_file(staged_header.string()));
        if (fs::exists(root_ + "/" + stem + ".hdr", ec)) {  // the commit was done but for removing this
            ::unlink(staged_header.c_str());
            return;
        }
        if (payload.empty()) throw std::runtime_error("its payload is gone");
        std::string data = read_file(payload.string());
        if (!header.has("size") || !header.has("sha256") || header.at("size").i != int64_t(data.size()) ||
            header.at("sha256").s != wire::sha256_hex(data))
            throw std::runtime_error("its bytes are not the ones its header names");
        fsync_path(payload.string(), O_RDONLY);
        std::string target = root_ + "/" + stem + ".bin";
        if (payload.string() != target && ::rename(payload.c_str(), target.c_str()) != 0)
            os_fail("cannot rename", payload.string());
        commit_header(header);
        ::unlink(staged_header.c_str());
    } catch (const std::exception& e) {
        log::error("outbox: segment ", stem, " left in .staging/ by the last run (its commit cut short) cannot be "
                   "committed (", e.what(), "); moved to refused/");
        ++set_aside_;
        payloads.insert(payloads.begin(), staged_header);
        for (const auto& path : payloads) {
            if (!fs::exists(path, ec)) continue;
            bool staged = path.parent_path() == fs::path(staging_);
            fs::rename(path, refused_ + "/" + (staged ? "staged-" : "") + path.filename().string(), ec);
        }
        return;
    }
    auto number = [&](const char* key) { return header.has(key) ? std::to_string(header.at(key).i) : std::string("?"); };
    log::warning("outbox: segment ", number("seq"), " of event ", header.has("event") ? header.at("event").s : "?",
                 " (", number("frames"), " frame(s)) was left in .staging/ by the last run, its commit cut short (a "
                 "stop on a disk that did not answer, or a kill); committed now");
}

void Outbox::commit_bytes(const Value& header, const std::string& payload) {
    ensure_folders();
    write_durably(root_ + "/" + header.at("id").s + ".bin", payload);
    commit_header(header);
}

void Outbox::commit_header(const Value& header) {
    const std::string& id = header.at("id").s;
    const std::string hdr = root_ + "/" + id + ".hdr", journal = root_ + "/produced.jsonl";
    write_durably(hdr, wire::encode_header(header));
    std::lock_guard<std::mutex> lock(mutex_);
    // The journal never names an item that is not in the outbox, nor holds half a line: a refused
    // line undoes the header (the item is then held and committed again) and a short one is cut back.
    auto undo = [&](const char* what, int code) {
        ::unlink(hdr.c_str());
        os_fail(what, journal, code);
    };
    int fd = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 && errno == EISDIR) {
        // A directory made where the journal was refused every commit (each item lost, the camera `ok`): moved
        // aside, kept, as outbox.py's _open_journal does; the journal begins again with this item.
        std::string aside = journal + ".replaced-" + std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch()).count());
        if (::rename(journal.c_str(), aside.c_str()) == 0)
            log::error("outbox: a directory stood where the journal ", journal, " belongs; moved it to ",
                       fs::path(aside).filename().string(), " (its files kept) and began the journal again; recording "
                       "goes on");
        fd = ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    }
    if (fd < 0) undo("cannot open", errno);
    off_t size = ::lseek(fd, 0, SEEK_END);
    std::string line = journal_line(header);
    ssize_t n = ::write(fd, line.data(), line.size());
    if (n != ssize_t(line.size())) {
        int code = n < 0 ? errno : ENOSPC;
        if (size >= 0 && ::ftruncate(fd, size) != 0) log::error("outbox: cannot cut back a short journal line");
        ::close(fd);
        undo("cannot write", code);
    }
    ::fsync(fd);
    ::close(fd);
    items_[id] = {id, header.at("type").s, header.at("size").i};
    for (const auto& listener : listeners_) listener();  // under the lock: on_new_item may add one meanwhile
}

void Outbox::on_new_item(std::function<void()> listener) {
    std::lock_guard<std::mutex> lock(mutex_);
    listeners_.push_back(std::move(listener));
}

bool Outbox::load(const std::string& id, std::string& header_bytes, std::string& payload) {
    try {
        Value header = wire::unpack_header(read_file(root_ + "/" + id + ".hdr"));
        // The uploader acks the header's id: under another one the item would be sent again for ever (outbox.py).
        if (!header.has("id") || !header.at("id").is(Value::Kind::Str) || header.at("id").s != id)
            throw wire::ProtocolError("bad_value", "header id is not " + id + ", the item's file name");
        header_bytes = wire::encode_header(header);
        payload = read_file(root_ + "/" + id + ".bin");
        return true;
    } catch (const OsError& e) {
        if (e.code == ENOENT || e.code == ENOTDIR) return false;  // acked meanwhile (or the outbox deleted)
        throw;  // the disk refused it (EACCES, EIO): the link says so and tries again (link.cpp)
    }
}

std::vector<OutboxItem> Outbox::pending() {
    std::vector<OutboxItem> out;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& [id, item] : items_) out.push_back(item);
    }
    std::stable_sort(out.begin(), out.end(), [](const OutboxItem& a, const OutboxItem& b) {
        int pa = a.type == "snapshot" ? 0 : 1, pb = b.type == "snapshot" ? 0 : 1;
        return pa != pb ? pa < pb : a.id < b.id;  // snapshots first, then oldest first
    });
    return out;
}

bool Outbox::holds(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.count(id) > 0;
}

void Outbox::remove(const std::string& id, const std::string& keep_copy_in) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!items_.erase(id)) return;
    }
    std::error_code ec;
    std::string payload = root_ + "/" + id + ".bin";
    if (!keep_copy_in.empty()) {
        fs::create_directories(keep_copy_in, ec);
        ::chmod(keep_copy_in.c_str(), 0700);
        fs::rename(payload, keep_copy_in + "/" + id + ".bin", ec);
    } else {
        fs::remove(payload, ec);
    }
    fs::remove(root_ + "/" + id + ".hdr", ec);  // header last: a crash re-sends rather than loses
    if (ec)  // an outbox made read-only: the item stays on disk, is sent again after a restart and stored once
        log::error("outbox: item ", id, " was stored by the uploader but cannot be deleted from ", root_, " (",
                   ec.message(), "); it stays there and is sent again after a restart (stored once)");
}

void Outbox::refuse(const std::string& id) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        items_.erase(id);
    }
    for (const char* suffix : {".bin", ".hdr"}) {
        std::error_code ec;
        fs::rename(root_ + "/" + id + suffix, refused_ + "/" + id + suffix, ec);
    }
}

double Outbox::oldest_s(double now) {
    std::string oldest;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!items_.empty()) oldest = items_.begin()->first;
    }
    if (oldest.size() < 13 || oldest.find_first_not_of("0123456789abcdef") < 13) return 0;  // not a new id
    double made = double(std::stoull(oldest.substr(0, 13), nullptr, 16)) / 1000;
    return std::round(std::max(0.0, now - made) * 10) / 10;
}

std::pair<int64_t, int64_t> Outbox::depth() {
    std::lock_guard<std::mutex> lock(mutex_);
    int64_t bytes = 0;
    for (const auto& [id, item] : items_) bytes += item.size;
    return {int64_t(items_.size()), bytes};
}

}  // namespace qc
