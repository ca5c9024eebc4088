"""Text that has turned into markup before: shown anywhere, each must stay text, load nothing
and link nowhere. ``REMOTE`` is a documentation address (TEST-NET-3): nothing answers there."""

from __future__ import annotations

REMOTE = "203.0.113.7"

PAYLOADS: tuple[str, ...] = (
    f"![x](http://{REMOTE}/md-image.png)",
    f"[click me](http://{REMOTE}/md-link)",
    f"see http://{REMOTE}/bare-url for more",
    "visit www.example.org today",
    f"<http://{REMOTE}/angle-autolink>",
    "write to someone@example.org",
    f"[r]: http://{REMOTE}/reference.png\n\n![x][r]",
    f"line one\n\n![after a blank line](http://{REMOTE}/after-blank.png)",
    f"<div>\n\n![inside a div](http://{REMOTE}/in-div.png)\n\n</div>",
    f"<img src=http://{REMOTE}/raw-img.png>",
    f"<img src=x onerror=\"fetch('http://{REMOTE}/onerror')\">",
    f"<script>fetch('http://{REMOTE}/script')</script>",
    f'<a href="http://{REMOTE}/anchor">a link</a>',
    f"</div></td><img src=http://{REMOTE}/breakout.png>",
    f"<style>body{{background:url(http://{REMOTE}/style.png)}}</style>",
    f'<link rel="stylesheet" href="http://{REMOTE}/sheet.css">',
    f'<iframe src="http://{REMOTE}/frame"></iframe>',
    f'<svg><image href="http://{REMOTE}/svg.png"/></svg>',
    f'<meta http-equiv="refresh" content="0;url=http://{REMOTE}/meta">',
    "[js](javascript:alert(1))",
    ":red[coloured] :material/warning: **bold** _it_ `code` ~~struck~~ # heading | a | b |",
    f"$\\href{{http://{REMOTE}/latex}}{{x}}$",
    "&lt;img src=x&gt; &amp; 'quotes' \"double\"",
    "\x1b[31mred\x1b[0m \x1b]0;retitled\x07",
)
