//! The same-story candidates a document's entries need, looked up together.
