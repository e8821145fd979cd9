"""Guest struct layouts, declared once as data.

A layout is a name and a list of (field, struct-format) rows; packing and
unpacking are derived from it.  Layouts are the *guest's*: AArch64 uses the
asm-generic ``struct stat`` (128 bytes, 32-bit st_mode/st_nlink) and an
unpacked ``struct epoll_event`` (16 bytes), both unlike x86_64's.  An
architecture overrides a layout by name in its ``LinuxArch.structs``.
"""
from __future__ import annotations

import struct

from ..record import record


@record(frozen=True)
class Layout:
    name: str
    fields: tuple[tuple[str, str], ...]      # (name, struct format char(s)); "_" names are padding

    def __post_init__(self):
        # the packer: derived from ``fields``, so not a field of its own
        object.__setattr__(self, "_st", struct.Struct("<" + "".join(f for _, f in self.fields)))

    @property
    def size(self) -> int:
        return self._st.size

    def pack(self, **values) -> bytes:
        unknown = set(values) - {n for n, _ in self.fields}
        if unknown:
            raise KeyError(f"{self.name}: no field(s) {sorted(unknown)}")
        out = []
        for name, fmt in self.fields:
            v = values.get(name, b"" if fmt.endswith("s") else 0)
            out.append(v)
        return self._st.pack(*out)

    def unpack(self, data: bytes) -> dict:
        return {n: v for (n, _), v in zip(self.fields, self._st.unpack(data[:self.size]))
                if not n.startswith("_")}

    def offset(self, name: str) -> int:
        off = 0
        for n, f in self.fields:
            if n == name:
                return off
            off += struct.calcsize("<" + f)
        raise KeyError(name)


def _ts(prefix: str) -> tuple[tuple[str, str], ...]:
    return ((f"{prefix}_sec", "q"), (f"{prefix}_nsec", "Q"))


def _statx_ts(prefix: str) -> tuple[tuple[str, str], ...]:
    return ((f"{prefix}_sec", "q"), (f"{prefix}_nsec", "I"), (f"_{prefix}_res", "i"))


GENERIC_64: dict[str, Layout] = {lay.name: lay for lay in (
    # include/uapi/asm-generic/stat.h
    Layout("stat", (("st_dev", "Q"), ("st_ino", "Q"), ("st_mode", "I"), ("st_nlink", "I"),
                    ("st_uid", "I"), ("st_gid", "I"), ("st_rdev", "Q"), ("_pad1", "Q"),
                    ("st_size", "q"), ("st_blksize", "i"), ("_pad2", "i"), ("st_blocks", "q"),
                    *_ts("st_atime"), *_ts("st_mtime"), *_ts("st_ctime"),
                    ("_unused4", "I"), ("_unused5", "I"))),
    # include/uapi/linux/stat.h (same on every architecture)
    Layout("statx", (("stx_mask", "I"), ("stx_blksize", "I"), ("stx_attributes", "Q"),
                     ("stx_nlink", "I"), ("stx_uid", "I"), ("stx_gid", "I"), ("stx_mode", "H"),
                     ("_spare0", "H"), ("stx_ino", "Q"), ("stx_size", "Q"), ("stx_blocks", "Q"),
                     ("stx_attributes_mask", "Q"), *_statx_ts("stx_atime"), *_statx_ts("stx_btime"),
                     *_statx_ts("stx_ctime"), *_statx_ts("stx_mtime"),
                     ("stx_rdev_major", "I"), ("stx_rdev_minor", "I"), ("stx_dev_major", "I"),
                     ("stx_dev_minor", "I"), ("stx_mnt_id", "Q"), ("stx_dio_mem_align", "I"),
                     ("stx_dio_offset_align", "I"), ("_spare3", "96s"))),
    Layout("statfs", (("f_type", "q"), ("f_bsize", "q"), ("f_blocks", "Q"), ("f_bfree", "Q"),
                      ("f_bavail", "Q"), ("f_files", "Q"), ("f_ffree", "Q"), ("f_fsid0", "i"),
                      ("f_fsid1", "i"), ("f_namelen", "q"), ("f_frsize", "q"), ("f_flags", "q"),
                      ("_spare", "32s"))),
    Layout("timespec", (("tv_sec", "q"), ("tv_nsec", "q"))),
    Layout("timeval", (("tv_sec", "q"), ("tv_usec", "q"))),
    Layout("timezone", (("tz_minuteswest", "i"), ("tz_dsttime", "i"))),
    Layout("rlimit", (("rlim_cur", "Q"), ("rlim_max", "Q"))),
    Layout("iovec", (("iov_base", "Q"), ("iov_len", "Q"))),
    Layout("utsname", (("sysname", "65s"), ("nodename", "65s"), ("release", "65s"),
                       ("version", "65s"), ("machine", "65s"), ("domainname", "65s"))),
    Layout("tms", (("tms_utime", "q"), ("tms_stime", "q"), ("tms_cutime", "q"), ("tms_cstime", "q"))),
    Layout("rusage", (("ru_utime_sec", "q"), ("ru_utime_usec", "q"), ("ru_stime_sec", "q"),
                      ("ru_stime_usec", "q"), ("ru_maxrss", "q"), ("ru_ixrss", "q"), ("ru_idrss", "q"),
                      ("ru_isrss", "q"), ("ru_minflt", "q"), ("ru_majflt", "q"), ("ru_nswap", "q"),
                      ("ru_inblock", "q"), ("ru_oublock", "q"), ("ru_msgsnd", "q"), ("ru_msgrcv", "q"),
                      ("ru_nsignals", "q"), ("ru_nvcsw", "q"), ("ru_nivcsw", "q"))),
    Layout("sysinfo", (("uptime", "q"), ("loads0", "Q"), ("loads1", "Q"), ("loads2", "Q"),
                       ("totalram", "Q"), ("freeram", "Q"), ("sharedram", "Q"), ("bufferram", "Q"),
                       ("totalswap", "Q"), ("freeswap", "Q"), ("procs", "H"), ("_pad", "6s"),
                       ("totalhigh", "Q"), ("freehigh", "Q"), ("mem_unit", "I"), ("_f", "4s"))),
    # The kernel's struct sigaction (not libc's): handler, flags, restorer, mask.
    Layout("sigaction", (("sa_handler", "Q"), ("sa_flags", "Q"), ("sa_restorer", "Q"), ("sa_mask", "Q"))),
    Layout("stack_t", (("ss_sp", "Q"), ("ss_flags", "i"), ("_pad", "i"), ("ss_size", "Q"))),
    Layout("pollfd", (("fd", "i"), ("events", "h"), ("revents", "h"))),
    # Only x86_64 packs epoll_event; everyone else aligns data to 8.
    Layout("epoll_event", (("events", "I"), ("_pad", "I"), ("data", "Q"))),
    Layout("winsize", (("ws_row", "H"), ("ws_col", "H"), ("ws_xpixel", "H"), ("ws_ypixel", "H"))),
    # asm-generic termbits.h: the kernel termios TCGETS copies (NCCS = 19).
    Layout("termios", (("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
                       ("c_line", "B"), ("c_cc", "19s"))),
    Layout("dirent64_head", (("d_ino", "Q"), ("d_off", "q"), ("d_reclen", "H"), ("d_type", "B"))),
    Layout("siginfo_kill", (("si_signo", "i"), ("si_errno", "i"), ("si_code", "i"), ("_pad", "i"),
                            ("si_pid", "i"), ("si_uid", "I"), ("_rest", "104s"))),
    Layout("siginfo_fault", (("si_signo", "i"), ("si_errno", "i"), ("si_code", "i"), ("_pad", "i"),
                             ("si_addr", "Q"), ("_rest", "104s"))),
    Layout("siginfo_chld", (("si_signo", "i"), ("si_errno", "i"), ("si_code", "i"), ("_pad", "i"),
                            ("si_pid", "i"), ("si_uid", "I"), ("si_status", "i"), ("_pad2", "i"),
                            ("si_utime", "q"), ("si_stime", "q"), ("_rest", "80s"))),
    Layout("sockaddr_head", (("sa_family", "H"),)),
    Layout("msghdr", (("msg_name", "Q"), ("msg_namelen", "I"), ("_pad", "I"), ("msg_iov", "Q"),
                      ("msg_iovlen", "Q"), ("msg_control", "Q"), ("msg_controllen", "Q"),
                      ("msg_flags", "i"), ("_pad2", "i"))),
)}
