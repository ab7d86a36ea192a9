#!/usr/bin/env python3
"""Draws the sample catalog's posters as SVG files under public/posters/.

The posters are generated rather than downloaded so the app never fetches
anything from the internet. Run it again after changing the list below.
"""
import html
import pathlib
import textwrap

POSTERS = [
    ("last-lighthouse", "The Last Lighthouse", "#0f2a4a", "#f5b942", "lighthouse"),
    ("orbit-of-ash", "Orbit of Ash", "#1a0f2e", "#ff7a45", "planet"),
    ("paper-tigers", "Paper Tigers", "#3a1020", "#ffd6a5", "triangle"),
    ("cartographers-daughter", "The Cartographer's Daughter", "#2b2113", "#e9c46a", "compass"),
    ("nebula-diner", "Night Shift at Nebula Diner", "#10233a", "#ff6fb5", "moon"),
    ("cold-harbor", "Cold Harbor Protocol", "#0d1b24", "#8ecae6", "bars"),
    ("river-bends", "Where the River Bends", "#12301f", "#a7c957", "river"),
    ("hollow-pines", "Hollow Pines", "#0b0f0c", "#c1121f", "pines"),
    ("tempo", "Tempo", "#1f1633", "#f72585", "waves"),
    ("dragonfly-summer", "Dragonfly Summer", "#2a3d12", "#ffd60a", "sun"),
    ("default", "MovieBook", "#1c1e29", "#f5b942", "reel"),
]

SHAPES = {
    "lighthouse": '<polygon points="135,330 165,330 158,170 142,170" fill="{c}"/><circle cx="150" cy="160" r="14" fill="{c}"/><polygon points="150,160 300,110 300,210" fill="{c}" opacity="0.25"/>',
    "planet": '<circle cx="150" cy="210" r="80" fill="{c}" opacity="0.9"/><ellipse cx="150" cy="210" rx="130" ry="22" fill="none" stroke="{c}" stroke-width="6" opacity="0.6"/>',
    "triangle": '<polygon points="150,90 250,300 50,300" fill="none" stroke="{c}" stroke-width="8"/><polygon points="150,150 210,280 90,280" fill="{c}" opacity="0.5"/>',
    "compass": '<circle cx="150" cy="200" r="90" fill="none" stroke="{c}" stroke-width="5"/><polygon points="150,110 165,200 150,290 135,200" fill="{c}"/>',
    "moon": '<circle cx="170" cy="180" r="70" fill="{c}"/><circle cx="200" cy="160" r="60" fill="{bg}"/><rect x="60" y="290" width="180" height="30" rx="8" fill="{c}" opacity="0.6"/>',
    "bars": '<rect x="70" y="120" width="20" height="200" fill="{c}"/><rect x="120" y="120" width="20" height="200" fill="{c}"/><rect x="170" y="120" width="20" height="200" fill="{c}"/><rect x="220" y="120" width="20" height="200" fill="{c}"/>',
    "river": '<path d="M0,260 C80,200 120,320 200,250 S280,220 300,240 L300,450 L0,450 Z" fill="{c}" opacity="0.7"/>',
    "pines": '<polygon points="80,320 110,160 140,320" fill="{c}"/><polygon points="140,320 175,130 210,320" fill="{c}" opacity="0.8"/><polygon points="200,320 225,190 250,320" fill="{c}" opacity="0.6"/>',
    "waves": '<path d="M30,220 Q60,140 90,220 T150,220 T210,220 T270,220" fill="none" stroke="{c}" stroke-width="8"/><path d="M30,260 Q60,200 90,260 T150,260 T210,260 T270,260" fill="none" stroke="{c}" stroke-width="4" opacity="0.6"/>',
    "sun": '<circle cx="150" cy="190" r="70" fill="{c}"/><path d="M60,300 L150,250 L240,300" fill="none" stroke="{c}" stroke-width="6"/>',
    "reel": '<circle cx="150" cy="200" r="90" fill="none" stroke="{c}" stroke-width="10"/><circle cx="150" cy="160" r="18" fill="{c}"/><circle cx="150" cy="240" r="18" fill="{c}"/><circle cx="110" cy="200" r="18" fill="{c}"/><circle cx="190" cy="200" r="18" fill="{c}"/>',
}


def poster(title, bg, color, shape):
    lines = textwrap.wrap(title.upper(), 16)
    text = "".join(
        f'<text x="150" y="{370 + i * 30}" text-anchor="middle" font-family="sans-serif" '
        f'font-size="24" font-weight="700" fill="{color}">{html.escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    art = SHAPES[shape].format(c=color, bg=bg)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="450" viewBox="0 0 300 450">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{bg}"/>'
        '<stop offset="1" stop-color="#000"/></linearGradient></defs>'
        f'<rect width="300" height="450" fill="url(#g)"/>{art}{text}</svg>\n'
    )


def main():
    out = pathlib.Path(__file__).resolve().parent.parent / "public" / "posters"
    out.mkdir(parents=True, exist_ok=True)
    for slug, title, bg, color, shape in POSTERS:
        (out / f"{slug}.svg").write_text(poster(title, bg, color, shape))


if __name__ == "__main__":
    main()
