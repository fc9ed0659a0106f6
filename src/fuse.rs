//! placeholder: the fuser adapter (issue 3, in progress).
