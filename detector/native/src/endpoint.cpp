// The link's security policy at start-up (docs/protocol.md section 10), with the texts of
// common/endpoint.py, its Python owner.
#include "endpoint.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace qc {

namespace {
// ipc://, and TCP on a loopback address: nothing another machine reaches.
bool loopback_endpoint(const std::string& endpoint) {
    if (endpoint.rfind("tcp://", 0) != 0) return true;
    std::string host = endpoint.substr(6);
    host = host.substr(0, host.rfind(':'));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") return true;
    unsigned char address[16];
    if (inet_pton(AF_INET, host.c_str(), address) == 1) return address[0] == 127;
    if (inet_pton(AF_INET6, host.c_str(), address) == 1) {
        static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return std::memcmp(address, kLoopback6, 16) == 0;
    }
    return false;  // "*" or an interface name: reachable from outside
}

std::string octal(unsigned mode) {
    std::ostringstream out;
    out << std::oct << mode;
    return out.str();
}
}  // namespace

void check_plain_tcp(const LinkConfig& link, bool curve) {
    if (curve || link.endpoint.rfind("tcp://", 0) != 0 || link.allow_plain_tcp) return;
    throw ConfigError("link.endpoint: " + link.endpoint + " without CURVE lets any program on " +
                      (loopback_endpoint(link.endpoint) ? "this machine" : "the network") +
                      " pose as the uploader or a detector; remove link.endpoint to use the private socket " +
                      LinkConfig{}.endpoint + " (one machine), turn CURVE on (docs/deploy.md, Two machines), or set "
                      "link.allow_plain_tcp = true to accept the risk");
}

std::string plain_tcp_warning(const LinkConfig& link, bool curve) {
    if (curve || link.endpoint.rfind("tcp://", 0) != 0) return "";
    return link.endpoint + " WITHOUT CURVE (link.allow_plain_tcp = true): " +
           (loopback_endpoint(link.endpoint) ? "any local program" : "any host") +
           " can pose as the uploader or a detector and read the footage";
}

void private_folder(const std::string& endpoint) {
    if (endpoint.rfind("ipc://", 0) != 0) return;
    std::string path = endpoint.substr(6);
    // sun_path holds 108 bytes with its terminating zero; libzmq would only fail later, quietly.
    if (path.size() > 107)
        throw ConfigError("link.endpoint: the socket path " + path + " is " + std::to_string(path.size()) +
                          " bytes, over the 107 a Unix socket allows; choose a shorter path in link.endpoint");
    auto slash = path.rfind('/');
    std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    // mkdir -p, each missing level 0700 (the detector may start before the uploader).
    for (size_t at = folder.find('/', 1);; at = folder.find('/', at + 1)) {
        std::string level = folder.substr(0, at);
        if (::mkdir(level.c_str(), 0700) != 0 && errno != EEXIST)
            throw ConfigError("link.endpoint: cannot create the socket folder " + folder + ": " + std::strerror(errno) +
                              "; choose another path in link.endpoint");
        if (at == std::string::npos) break;
    }
    struct stat info{};
    if (::stat(folder.c_str(), &info) != 0)
        throw ConfigError("link.endpoint: cannot create the socket folder " + folder + ": " + std::strerror(errno) +
                          "; choose another path in link.endpoint");
    if (!S_ISDIR(info.st_mode))
        throw ConfigError("link.endpoint: " + folder + " is not a folder; choose another path in link.endpoint");
    if (info.st_uid != ::geteuid())
        throw ConfigError("link.endpoint: the socket folder " + folder + " belongs to uid " + std::to_string(info.st_uid) +
                          ", not to this user (uid " + std::to_string(::geteuid()) + "), so that user could pose as "
                          "the uploader; remove it or choose another path in link.endpoint");
    // The folder holding it, by name (as Python's Path.absolute().parent): nobody else may swap it.
    std::string absolute = folder;
    if (absolute.front() != '/') {
        char cwd[4096];
        if (!::getcwd(cwd, sizeof cwd)) throw ConfigError("link.endpoint: cannot read the working folder");
        absolute = folder == "." ? std::string(cwd) : std::string(cwd) + "/" + folder;
    }
    while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
    auto cut = absolute.rfind('/');
    std::string holder = cut == 0 || cut == std::string::npos ? "/" : absolute.substr(0, cut);
    struct stat parent{};
    if (::stat(holder.c_str(), &parent) == 0 && (parent.st_mode & S_IWOTH) && !(parent.st_mode & S_ISVTX))
        throw ConfigError("link.endpoint: the socket folder " + folder + " sits in a folder every user may write to "
                          "(without the sticky bit), so another user could swap it; choose another path in "
                          "link.endpoint");
    if (info.st_mode & 077)
        throw ConfigError("link.endpoint: the socket folder " + folder + " is open to other users (mode " +
                          octal(info.st_mode & 0777) + "), so they could pose as the uploader or a detector; chmod 700 " +
                          folder);
}

}  // namespace qc
