#!/usr/bin/env bash
# Build the native (C++17) detector into build/native/ (ignored by git):
#   scripts/build_native.sh            install what is missing (as root, from Debian), then build
#   scripts/build_native.sh --no-install   build only; fail with one line if a tool is missing
# Prints the path of the binary on its last line of stdout.
#
# Debian packages it installs when missing, and why:
#   g++ cmake pkgconf     the compiler and the build tool (CMake finds the libraries below)
#   libopencv-dev         OpenCV's C++ library: USB cameras (videoio's V4L2), motion (imgproc),
#                         zone mask images (imgcodecs, in a module loaded only when one is named)
#   libavcodec-dev libavformat-dev libswscale-dev
#                         FFmpeg: files and RTSP/HTTP streams decoded to 4:2:0, and H.264
#                         (libx264) segments in MP4 with the encoder options the Python
#                         detector uses (OpenCV's writer cannot take them)
#   libjpeg-dev           libjpeg-turbo: JPEG snapshots (OpenCV's imgcodecs would map GDAL & co.)
#   libzmq3-dev cppzmq-dev  ZeroMQ and its C++ binding: the link to the uploader (CURVE included)
#   libmsgpack-cxx-dev    msgpack for C++: the message headers (docs/protocol.md)
#   libtomlplusplus-dev   toml++: reads quickcam.toml
#   nlohmann-json3-dev    JSON: reads the protocol test vectors (--vectors mode)
#   libssl-dev            OpenSSL's SHA-256 for the payload digests
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${QUICKCAM_NATIVE_BUILD:-$ROOT/build/native}"
PACKAGES=(g++ cmake pkgconf libopencv-dev libavcodec-dev libavformat-dev libswscale-dev libjpeg-dev libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libtomlplusplus-dev
          nlohmann-json3-dev libssl-dev)

install=1
[ "${1:-}" = "--no-install" ] && install=0

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$install" = 1 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "build_native: installing from Debian for the native detector: ${missing[*]}" >&2
        for attempt in 1 2 3 4 5 6; do  # another apt may hold the lock for a while
            if apt-get update -qq >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
                break
            fi
            [ "$attempt" = 6 ] && { echo "build_native: apt-get could not install ${missing[*]}" >&2; exit 1; }
            sleep 10
        done
    else
        echo "build_native: missing Debian packages ${missing[*]} (install them as root with apt-get)" >&2
        exit 1
    fi
fi

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
mkdir -p "$BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT/detector/native" -B "$BUILD" ${generator[@]+"${generator[@]}"} -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$BUILD" --parallel 2 >&2
echo "$BUILD/quickcam-native-detector"
