#include "polled_input.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace qc {

namespace {
constexpr int kPollSliceMs = 100;  // as FFmpeg's own network waits (POLLING_TIME): a stop is seen within it
constexpr int kBufferBytes = 32768;
}  // namespace

bool PolledInput::wanted(const std::string& path) {
    struct stat info {};
    return path.find(':') == std::string::npos && ::stat(path.c_str(), &info) == 0 &&
           (S_ISFIFO(info.st_mode) || S_ISCHR(info.st_mode));
}

std::unique_ptr<PolledInput> PolledInput::open(const std::string& path, const AVIOInterruptCB& interrupt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return nullptr;
    std::unique_ptr<PolledInput> input(new PolledInput(fd, interrupt.callback, interrupt.opaque));
    auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferBytes));
    if (buffer) input->context_ = avio_alloc_context(buffer, kBufferBytes, 0, input.get(), &PolledInput::read, nullptr, nullptr);
    if (!input->context_) {
        av_free(buffer);
        errno = ENOMEM;
        return nullptr;
    }
    input->context_->seekable = 0;
    return input;
}

PolledInput::PolledInput(int fd, int (*callback)(void*), void* opaque) : fd_(fd), interrupted_(callback), opaque_(opaque) {}

PolledInput::~PolledInput() {
    if (context_) av_freep(&context_->buffer);
    avio_context_free(&context_);
    ::close(fd_);
}

// A FIFO whose writer never came, or came and went silent, polls as not readable: the wait goes on, asking
// the interrupt between slices. Its writer gone (POLLHUP) reads 0 bytes: the end, as the file protocol said.
int PolledInput::read(void* opaque, unsigned char* buffer, int size) {
    auto* self = static_cast<PolledInput*>(opaque);
    while (true) {
        if (self->interrupted_ && self->interrupted_(self->opaque_)) return AVERROR_EXIT;
        pollfd readable{self->fd_, POLLIN, 0};
        int ready = ::poll(&readable, 1, kPollSliceMs);
        if (ready < 0 && errno != EINTR) return AVERROR(errno);
        if (ready <= 0) continue;
        ssize_t got = ::read(self->fd_, buffer, size);
        if (got > 0) return int(got);
        if (got == 0) return AVERROR_EOF;
        if (errno != EAGAIN && errno != EINTR) return AVERROR(errno);
    }
}

}  // namespace qc
