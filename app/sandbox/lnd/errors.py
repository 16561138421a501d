"""LND's REST error shape: a gRPC status as `{"code", "message", "details"}` with grpc-gateway's HTTP status."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class GrpcCode(IntEnum):
    """The gRPC status codes LND answers with (google.golang.org/grpc/codes)."""

    OK = 0
    CANCELED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# grpc-gateway's runtime.HTTPStatusFromCode. A plain Go error (fmt.Errorf) in LND becomes UNKNOWN, so most
# of LND's validation failures arrive as HTTP 500 with code 2, not as a 4xx.
HTTP_STATUS: dict[GrpcCode, int] = {
    GrpcCode.OK: 200,
    GrpcCode.CANCELED: 499,
    GrpcCode.UNKNOWN: 500,
    GrpcCode.INVALID_ARGUMENT: 400,
    GrpcCode.DEADLINE_EXCEEDED: 504,
    GrpcCode.NOT_FOUND: 404,
    GrpcCode.ALREADY_EXISTS: 409,
    GrpcCode.PERMISSION_DENIED: 403,
    GrpcCode.RESOURCE_EXHAUSTED: 429,
    GrpcCode.FAILED_PRECONDITION: 400,
    GrpcCode.ABORTED: 409,
    GrpcCode.OUT_OF_RANGE: 400,
    GrpcCode.UNIMPLEMENTED: 501,
    GrpcCode.INTERNAL: 500,
    GrpcCode.UNAVAILABLE: 503,
    GrpcCode.DATA_LOSS: 500,
    GrpcCode.UNAUTHENTICATED: 401,
}


class LndError(Exception):
    """An error LND would return: the gRPC code and LND's own message text."""

    def __init__(self, code: GrpcCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        """The HTTP status grpc-gateway maps this code to."""
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        """The JSON body of the error (`rpcStatus` in the swagger)."""
        return {"code": int(self.code), "message": self.message, "details": []}


def unknown(message: str) -> LndError:
    """A plain Go error from LND (`fmt.Errorf`): gRPC UNKNOWN, HTTP 500."""
    return LndError(GrpcCode.UNKNOWN, message)


def invalid_argument(message: str) -> LndError:
    """`status.Errorf(codes.InvalidArgument, ...)` or a gateway parse failure: HTTP 400."""
    return LndError(GrpcCode.INVALID_ARGUMENT, message)
