"""Files: the encrypted blob store, uploads (tus and single request), content detection,
derivatives (thumbnails, posters), the project gallery and the photo report. docs/media.md."""
