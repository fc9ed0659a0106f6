//! placeholder: the kernel-free filesystem core (issue 3, in progress).
