#!/usr/bin/env bash
# Set up napari-gst from a clone on a bare Debian/Ubuntu machine: system libraries for Qt and a
# virtual display (apt, when run as root or with sudo), then a virtual environment in .venv with
# the package installed editable. `--test` adds the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

apt_packages=(xvfb xauth libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcb-cursor0
  libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1 libglib2.0-0)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
else
  echo "no apt-get: install Xvfb, Mesa (libGL/libEGL) and the xcb libraries for Qt yourself" >&2
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch 2.13.0 is pinned here to get the CPU build; the package itself accepts torch >= 2.2.
extras="pyqt6"
[ $want_tests -eq 1 ] && extras="pyqt6,testing"
.venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" -e ".[$extras]"
echo "napari-gst installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
