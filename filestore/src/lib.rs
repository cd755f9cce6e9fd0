//! filestore: see README.md. (Being built.)
