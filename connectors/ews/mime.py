"""GetItem with ``MimeContent``, decoded while the response streams in.

exchangelib's ordinary GetItem reads the whole SOAP response into an lxml tree, so a message with
a 1 GiB attachment would sit in memory base64-encoded and again decoded. This service does for
``t:MimeContent`` what exchangelib's own ``GetAttachment.stream_file_content`` does for an
attachment's ``t:Content``: the HTTP response is read as a stream, a SAX parser hands over the
element's base64 text as it arrives, and it is decoded in blocks of four characters. A response
without ``MimeContent`` (an EWS error: item not found, server busy ...) is parsed again the normal
way, so exchangelib raises its usual exception for it.

Small items go several to a request (:class:`MimeBatchGetItem`): Exchange answers each id in a
response message of its own, so a missing or bad item fails alone (a ``MimeContent`` that is not
valid base64 too: that item alone is read again, streamed).

The base64 is decoded by ``pybase64`` (SIMD), not the standard library: in a `large` mailbox's
capture the standard decoder held the interpreter lock for 11.5 % of the capture's time, the most of
any one function (``py-spy --gil``), at about 280 MB/s against pybase64's ~2.9 GB/s here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pybase64
from exchangelib.errors import EWSError, MalformedResponseError
from exchangelib.fields import FieldPath
from exchangelib.items import Item
from exchangelib.properties import ItemId
from exchangelib.services import GetItem
from exchangelib.util import (
    TNS,
    DummyResponse,
    ElementNotFound,
    StreamingBase64Parser,
    StreamingContentHandler,
)

_MIME_FIELD = FieldPath(field=Item.get_field_by_fieldname("mime_content"))


class _Base64Parser(StreamingBase64Parser):  # type: ignore[misc]
    """exchangelib's streaming parser, its base64 decoded by ``pybase64``: the same blocks (the
    text so far, cut to a multiple of four characters, the rest kept for the next), as
    ``StreamingBase64Parser._decode_buffer`` cuts them."""

    buffer: list[str]  # the element's text not yet decoded (the content handler appends to it)

    def _decode_buffer(self) -> Iterator[bytes]:
        remainder = ""
        for data in self.buffer:
            overflow = (len(remainder) + len(data)) % 4
            if remainder:
                data, remainder = remainder + data, ""
            if overflow:
                remainder, data = data[-overflow:], data[:-overflow]
            if data:
                yield pybase64.b64decode(data)
        self.buffer = [remainder] if remainder else []


class StreamingMimeGetItem(GetItem):  # type: ignore[misc]
    """``GetItem`` of one item's ``MimeContent``, yielded as decoded byte blocks."""

    def _update_api_version(self, api_version: Any, header: Any) -> None:
        if not self.streaming:
            super()._update_api_version(api_version, header)

    def _get_soap_parts(self, response: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_parts(response)
        return None, response  # the raw response, for the streaming parser

    def _get_soap_messages(self, body: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_messages(body)
        parser = _Base64Parser()
        handler = StreamingContentHandler(parser=parser, ns=TNS, element_name="MimeContent")
        parser.setContentHandler(handler)
        return parser.parse(body)

    def stream_mime(self, item_id: str, changekey: str | None = None) -> Iterator[bytes]:
        payload = self.get_payload(
            items=[ItemId(id=item_id, changekey=changekey)],
            additional_fields=[_MIME_FIELD],
            shape="IdOnly",
        )
        self.streaming = True
        try:
            for block in self._get_response_xml(payload=payload):
                if block:
                    yield block
        except ElementNotFound as missing:
            # No MimeContent in the answer: let the ordinary parser raise the EWS error it holds.
            # A SOAP fault comes as HTTP 500, whose body exchangelib's response check has already
            # read (``response.content``), so the stream had nothing left: take it from there.
            data = missing.data
            if not data and self._streaming_response is not None:
                data = self._streaming_response.content
            self.stop_streaming()
            self.streaming = False
            _, body = super()._get_soap_parts(response=DummyResponse(content=data))
            messages = super()._get_soap_messages(body=body)
            for element in self._get_elements_in_response(response=messages):
                if isinstance(element, Exception):
                    raise element from None
            raise
        finally:
            if self.streaming:
                self.stop_streaming()
            self.streaming = False


class WholeResponse:
    """For a service whose response is read whole: exchangelib parses it through
    ``iter_content()``, which requests slices into single bytes (a page of a hundred items, or a
    batch of a megabyte, would be as many Python reads as it has bytes). The bytes go to the same
    (forgiving) parser in one piece instead."""

    def _get_soap_parts(self, response: Any) -> Any:
        return super()._get_soap_parts(response=DummyResponse(content=response.content))  # type: ignore[misc]


class MimeBatchGetItem(WholeResponse, GetItem):  # type: ignore[misc]
    """``GetItem`` of several small items' ``MimeContent`` in one request.

    Exchange answers a ``GetItem`` of n ids with n ``GetItemResponseMessage`` elements, in the order
    of the ids, each a success holding the item or an error of its own (``ErrorItemNotFound`` for
    an item deleted since it was listed, ``ErrorInvalidIdMalformed``, ...): one item's failure
    never fails its neighbours. :meth:`mime_of` gives, per id, the decoded MIME or the exception
    of its response message. The response is read whole (the caller batches only items whose
    reported size is small); a failure of the request itself (a SOAP fault such as
    ``ErrorServerBusy``, a broken response) raises as usual, for the whole batch."""

    def mime_of(self, item_ids: Sequence[str]) -> list[bytes | Exception]:
        payload = self.get_payload(
            items=[ItemId(id=item_id) for item_id in item_ids],
            additional_fields=[_MIME_FIELD],
            shape="IdOnly",
        )
        messages = list(self._get_response_xml(payload=payload))
        if len(messages) != len(item_ids):
            raise MalformedResponseError(
                f"GetItem of {len(item_ids)} items answered {len(messages)} response messages"
            )
        return [self._mime_in(message) for message in messages]

    def _mime_in(self, message: Any) -> bytes | Exception:
        try:
            container = self._get_element_container(message=message, name=self.element_container_name)
        except EWSError as exc:  # an error exchangelib would raise: it is this item's alone
            error: Exception = exc
            return error
        if isinstance(container, Exception):
            return container
        if isinstance(container, bool) or len(container) == 0:
            missing: Exception = MalformedResponseError("a GetItem response message without its item")
            return missing
        mime = container[0].find(f"{{{TNS}}}MimeContent")
        if mime is None or not mime.text:
            return b""
        try:
            return pybase64.b64decode(mime.text)
        except ValueError as exc:  # binascii.Error: this item's answer alone is broken (read again)
            broken: Exception = MalformedResponseError(f"the item's MimeContent is not valid base64: {exc}")
            return broken
