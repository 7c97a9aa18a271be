"""The HTTP layer: Litestar handlers, msgspec Structs in and pre-encoded bytes out."""
