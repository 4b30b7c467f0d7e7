// A named pipe or a device node read by FFmpeg through a file descriptor of our own, polled: FFmpeg's
// file protocol opened a FIFO with a blocking open(2), which waits for ever for a writer, and read it with
// a blocking read(2), which waits for ever for a writer that went silent; neither asks FFmpeg's interrupt
// callback, so neither a stream's read timeout nor the detector's stop could end them. Here the open does
// not block (O_NONBLOCK: a FIFO opens at once, with or without a writer), and each read waits in poll()
// slices of kPollSliceMs, asking the source's interrupt callback between them (av_source.cpp).
#pragma once

#include <memory>
#include <string>

struct AVIOContext;
struct AVIOInterruptCB;

namespace qc {

class PolledInput {
public:
    // A local path that is a FIFO or a character device (what FFmpeg's file protocol would block on).
    static bool wanted(const std::string& path);
    // Opened without blocking; nullptr when it cannot be (errno says why). `interrupt` is asked between polls.
    static std::unique_ptr<PolledInput> open(const std::string& path, const AVIOInterruptCB& interrupt);
    ~PolledInput();
    PolledInput(const PolledInput&) = delete;
    PolledInput& operator=(const PolledInput&) = delete;
    AVIOContext* context() const { return context_; }

private:
    PolledInput(int fd, int (*callback)(void*), void* opaque);
    static int read(void* self, unsigned char* buffer, int size);

    int fd_;
    int (*interrupted_)(void*);
    void* opaque_;
    AVIOContext* context_ = nullptr;
};

}  // namespace qc
