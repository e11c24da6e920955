"""Image builds as the SDK drives them (client.images.build: POST /build, streamed JSON)."""

import docker
import pytest


def write(ctx, files):
    for path, content in files.items():
        p = ctx / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)


def test_build_streams_steps_and_tags(client, busybox, name, tmp_path, cleanup):
    write(tmp_path, {
        "Dockerfile": f"FROM {busybox}\nARG WHO=world\nCOPY hello.txt /hello.txt\n"
                      "RUN echo \"hi $WHO\" >> /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
        "hello.txt": "from the context\n",
    })
    tag = f"{name}:1"
    # rm: the SDK's default is False (intermediate containers kept, as with dockerd).
    image, logs = client.images.build(
        path=str(tmp_path), tag=tag, buildargs={"WHO": "sdk"}, rm=True
    )
    logs = list(logs)
    try:
        text = "".join(chunk.get("stream", "") for chunk in logs)
        assert "Step 1/5 : FROM " in text
        assert f"Successfully tagged {tag}" in text
        assert any("aux" in chunk and chunk["aux"]["ID"] == image.id for chunk in logs)
        assert tag in image.tags
        out = client.containers.run(image.id, remove=True)
        assert out == b"from the context\nhi sdk\n"
        # Unchanged: every step from the cache, the same image.
        again, logs = client.images.build(
            path=str(tmp_path), tag=tag, buildargs={"WHO": "sdk"}, rm=True
        )
        text = "".join(chunk.get("stream", "") for chunk in logs)
        assert text.count(" ---> Using cache") == 4
        assert again.id == image.id
    finally:
        client.images.remove(tag, force=True)


def test_failed_run_raises_build_error(client, busybox, tmp_path):
    write(tmp_path, {"Dockerfile": f"FROM {busybox}\nRUN echo failing && exit 3\n"})
    before = client.containers.list(all=True)
    with pytest.raises(docker.errors.BuildError) as e:
        client.images.build(path=str(tmp_path), forcerm=True)
    assert "The command '/bin/sh -c echo failing && exit 3' returned a non-zero code: 3" in e.value.msg
    assert any("failing" in chunk.get("stream", "") for chunk in e.value.build_log)
    assert client.containers.list(all=True) == before


def test_parse_error_is_a_400(client, busybox, tmp_path):
    write(tmp_path, {"Dockerfile": f"FROM {busybox}\nRUUN echo\n"})
    with pytest.raises(docker.errors.APIError) as e:
        client.images.build(path=str(tmp_path))
    assert e.value.status_code == 400
    assert "dockerfile parse error on line 2: unknown instruction: RUUN" in str(e.value)
