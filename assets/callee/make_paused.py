#!/usr/bin/env python3
"""Builds the callee phrases said in two parts with a pause between (espeak-ng, Russian): the
mid-sentence pauses of `callops bench agent` (false cut-ins) and of the engine's tests. Each part
is an 8 kHz 16-bit mono WAV, the telephone's rate; the first part has no final punctuation (the
speaker has not finished). The texts are listed in `src/telephony/simulated.rs`. Re-run to
rebuild:
    python3 assets/callee/make_paused.py
"""
import audioop, io, os, subprocess, wave

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 8000

PARTS = [
    ("office_1", "Мне нужен офис"),
    ("office_2", "метров на двести."),
    ("storage_1", "Нам нужен склад в"),
    ("storage_2", "Подольске, на тысячу метров."),
    ("budget_1", "Бюджет у нас, ну, э-э"),
    ("budget_2", "около двух миллионов."),
    ("phone_1", "Мой номер восемь девятьсот шестнадцать"),
    ("phone_2", "сто двадцать три, сорок пять, шестьдесят семь."),
    ("terms_1", "Цена нормальная, но"),
    ("terms_2", "сроки нас не устраивают."),
]


def espeak(text):
    wav = subprocess.run(
        ["espeak-ng", "-v", "ru", "-s", "165", "--stdout", text],
        check=True, capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        frames = w.readframes(w.getnframes())
        rate, width = w.getframerate(), w.getsampwidth()
    pcm, _ = audioop.ratecv(frames, width, 1, rate, RATE, None)
    return pcm


def trim(pcm, floor=300):
    """Drops espeak's leading and trailing quiet (the pause is the bench's, not the file's)."""
    n = len(pcm) // 2
    samples = [int.from_bytes(pcm[i * 2:i * 2 + 2], "little", signed=True) for i in range(n)]
    loud = [i for i, s in enumerate(samples) if abs(s) > floor]
    if not loud:
        return pcm
    a, b = max(loud[0] - 80, 0), min(loud[-1] + 160, n)
    return pcm[a * 2:b * 2]


for name, text in PARTS:
    with wave.open(os.path.join(HERE, f"{name}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(trim(espeak(text)))
    print(name, text)
