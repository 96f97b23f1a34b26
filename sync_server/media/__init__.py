"""Media on central: the object store (local directory or S3) and the media records."""
