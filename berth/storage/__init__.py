"""Blob storage drivers behind one small async contract (see :mod:`berth.storage.base`).

Only the contract is re-exported here; build drivers with
:func:`berth.storage.factory.create_storage`. (Keeping the factory out of this module
means importing ``berth.storage`` never pulls in a concrete driver, which the HTTP
layer's import contract forbids.)
"""

from berth.storage.base import (
    BlobNotFound,
    BlobStorage,
    DigestMismatch,
    StorageConfigError,
    StorageError,
    StorageUnavailable,
    UnknownStorageDriver,
    UploadNotFound,
)

__all__ = [
    "BlobNotFound",
    "BlobStorage",
    "DigestMismatch",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailable",
    "UnknownStorageDriver",
    "UploadNotFound",
]
