from __future__ import annotations

from agent_client.sse import Event, iter_events


def test_events_are_decoded_with_names_and_data() -> None:
    body = b'event: text\ndata: {"delta":"Hi"}\n\nevent: done\ndata: {}\n\n'
    assert list(iter_events([body])) == [Event("text", '{"delta":"Hi"}'), Event("done", "{}")]


def test_an_event_split_across_chunks_is_reassembled() -> None:
    body = 'event: text\ndata: {"delta":"héllo"}\n\n'.encode()
    chunks = [body[i : i + 3] for i in range(0, len(body), 3)]
    assert list(iter_events(chunks)) == [Event("text", '{"delta":"héllo"}')]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    chunks = [b"event: text\r", b"\ndata: x\r\n\r", b"\n"]
    assert list(iter_events(chunks)) == [Event("text", "x")]


def test_unicode_line_separators_stay_inside_data() -> None:
    body = 'event: text\ndata: {"delta":"a\u2028b\u0085c"}\n\n'.encode()
    assert list(iter_events([body])) == [Event("text", '{"delta":"a\u2028b\u0085c"}')]


def test_multiple_data_lines_join_with_newlines() -> None:
    assert list(iter_events([b"data: one\ndata: two\n\n"])) == [Event("message", "one\ntwo")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    assert list(iter_events([b": keep-alive\nid: 7\nevent: done\ndata: {}\n\n"])) == [Event("done", "{}")]


def test_an_event_without_its_blank_line_is_not_dispatched() -> None:
    assert list(iter_events([b"event: text\ndata: partial\n"])) == []


def test_each_event_is_yielded_before_the_next_chunk_is_read() -> None:
    seen: list[str] = []

    def chunks():  # type: ignore[no-untyped-def]
        yield b"event: text\ndata: first\n\n"
        seen.append("second chunk read")
        yield b"event: text\ndata: second\n\n"

    stream = iter_events(chunks())
    assert next(stream) == Event("text", "first")
    assert seen == []
