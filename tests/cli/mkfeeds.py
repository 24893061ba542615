#!/usr/bin/env python3
"""Writes the fixture feeds for tests/cli/test_serve_e2e.sh into a folder.

usage: mkfeeds.py DIR [N]

DIR/topics.xml: an RSS 2.0 feed of N items (default 36) in three topics
(pets, food, space), interleaved, so a reader who only opens pet items
gives the recommender something clear to learn. DIR/big-K.xml (K = 1..4):
larger feeds (400 items each, long descriptions) for the ingestion that the
kill -9 test interrupts. Every item has a link, a guid and a pubDate.
DIR/glove.txt: a tiny GloVe text model of these words (one axis per topic),
for when the default model is absent (`tastebud model import-glove`).
"""
import os
import sys

TOPICS = {
    "pets": ["cat", "dog", "kitten", "puppy", "pet", "veterinarian", "leash", "paws"],
    "food": ["burger", "sandwich", "pizza", "cheese", "recipe", "bread", "soup", "salad"],
    "space": ["rocket", "planet", "orbit", "galaxy", "astronaut", "telescope", "comet", "moon"],
}


def item(i, topic, words, link_base, long_text=False):
    w = [words[(i + k) % len(words)] for k in range(4)]
    title = f"{topic} story {i}: {w[0]} {w[1]} and {w[2]}"
    desc = " ".join(words[(i * 3 + k) % len(words)] for k in range(60 if long_text else 12))
    day = 1 + i % 28
    return (f"<item><title>{title}</title><link>{link_base}/{topic}/{i}</link>"
            f"<guid isPermaLink=\"false\">{topic}-{i}</guid>"
            f"<description>&lt;p&gt;{desc} &lt;a href=\"{link_base}/more/{i}\"&gt;more&lt;/a&gt;&lt;/p&gt;</description>"
            f"<pubDate>Mon, {day:02d} Jan 2024 {i % 24:02d}:00:00 GMT</pubDate></item>\n")


def feed(title, items):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://topics.example/</link>"
            "<description>Fixture feed for the serve tests</description>\n"
            + "".join(items) + "</channel></rss>\n")


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 36
    os.makedirs(out, exist_ok=True)
    names = list(TOPICS)
    items = [item(i, names[i % 3], TOPICS[names[i % 3]], "https://topics.example")
             for i in range(n)]
    with open(os.path.join(out, "topics.xml"), "w") as f:
        f.write(feed("Three topics", items))
    with open(os.path.join(out, "glove.txt"), "w") as f:
        f.write("the 0.1 0.1 0.1 0.1\nand 0.1 0.1 0.1 0.1\nstory 0.1 0.1 0.1 0.2\n")
        for t, name in enumerate(names):
            for i, w in enumerate(TOPICS[name] + [name]):
                v = [0.05 * ((i + k) % 3) for k in range(4)]
                v[t] = 1.0
                f.write(w + " " + " ".join(f"{x:.2f}" for x in v) + "\n")
    for k in range(1, 5):
        big = [item(i, names[i % 3], TOPICS[names[i % 3]], f"https://big{k}.example", True)
               for i in range(400)]
        with open(os.path.join(out, f"big-{k}.xml"), "w") as f:
            f.write(feed(f"Big feed {k}", big))


if __name__ == "__main__":
    main()
