"""A constructed wire story as five sites publish it (other furniture, headlines and small
edits), and a second, different story about the same event: the story-group tests' data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from index.records import Article

WIRE = [
    "Dock workers at the Port of Valmora walked off the job on Monday, halting the loading of container "
    "ships at the country's busiest harbour as talks over pay and automation broke down.",
    "The Valmora Dockers Union said about 4,200 members joined the strike after the port authority offered "
    "a 3 percent raise over two years, well short of the 9 percent the union had demanded.",
    "\"We have waited eighteen months for a fair offer and we are not waiting any longer,\" union secretary "
    "Ilse Marquand told reporters outside the main gate, where pickets gathered before dawn.",
    "The port authority said in a statement that it regretted the walkout and that its offer remained on "
    "the table. It said contingency crews would keep the passenger ferry terminal open.",
    "At least 37 cargo vessels were waiting at anchor off the harbour by Monday afternoon, according to "
    "shipping data, and freight forwarders warned of delays to deliveries of fuel and grain.",
    "The dispute centres on the authority's plan to bring in automated cranes at two of its five "
    "terminals, which the union says would cut some 600 jobs over the next decade.",
    "Transport Minister Paulo Brenner urged both sides to return to mediation and said the government "
    "was ready to appoint an independent arbitrator if talks did not resume within a week.",
    "The last strike at the port, in 2019, lasted nine days and cost exporters an estimated 140 million "
    "euros, according to the national chamber of commerce.",
    "Union leaders said the walkout would continue indefinitely, with rolling pickets at every terminal, "
    "until the authority improved its pay offer and dropped the automation plan.",
]

SITES = [
    ("apnews.com", "Valmora dock workers strike over pay, automation",
     [], ["Copyright 2025 The Associated Press. All rights reserved."]),
    ("wtop.com", "Thousands of Valmora port workers walk off the job",
     ["Advertisement", "Share this story"], ["Sign up for our daily newsletter", "Copyright 2025 WTOP"]),
    ("sfgate.com", "Port strike halts container ships in Valmora",
     ["Listen to this article"], ["Most Popular", "- Ten things to do this weekend", "- Weather alerts"]),
    ("thestar.example", "Valmora dockers strike as pay talks collapse",
     ["By The Associated Press"], ["Related coverage: Port automation debate heats up"]),
    ("abcnews.example", "Valmora port strike: 37 ships wait at anchor",
     ["VALMORA -- "], ["Follow us on Facebook", "Comments (12)"]),
]


def wire_copies(day: date = date(2025, 3, 3)) -> list[Article]:
    """The wire story on five sites, each with its own furniture, headline and an edit or two."""
    out = []
    for n, (site, headline, top, bottom) in enumerate(SITES):
        paragraphs = list(WIRE)
        if n == 1:  # a site trims the story's last paragraph
            paragraphs = paragraphs[:-1]
        if n == 2:  # another rewrites the lead
            paragraphs[0] = ("Container ships stopped loading at the Port of Valmora on Monday after dock "
                             "workers walked off the job when talks over pay and automation broke down.")
        if n == 3:  # and another adds a local paragraph
            paragraphs.insert(5, "Local hauliers said trucks were already queuing on the ring road by noon.")
        if n == 4:  # an early version with the first count of ships
            paragraphs[4] = paragraphs[4].replace("At least 37", "More than 30")
        text = "\n\n".join([*top, *paragraphs, *bottom])
        out.append(Article(id=f"wire-{site}", title=headline, text=text, source=site, date=day,
                           url=f"https://{site}/2025/03/03/valmora-port-strike"))
    return out


def other_report(day: date = date(2025, 3, 3)) -> Article:
    """A different story on the same event, written separately: same names and facts, other text."""
    text = (
        "Pickets lit braziers outside the main gate of the Port of Valmora before sunrise on Monday as the "
        "first strike at the harbour in six years began. Forklift driver Tomas Egede, 52, said he had worked "
        "the quays for thirty years and had never seen the yards so quiet. Inside, cranes stood idle over "
        "stacks of containers bound for the grain terminal. The Valmora Dockers Union wants a 9 percent "
        "raise and guarantees on jobs if automated cranes arrive; the port authority offers 3 percent. "
        "Economists at the University of Valmora estimate that each day of the stoppage costs the region's "
        "economy about 15 million euros, mostly in delayed exports of timber and machinery. Shopkeepers in "
        "the harbour district said they feared a long dispute. \"When the port stops, the town stops,\" said "
        "cafe owner Mira Solberg, whose customers are mostly dock workers. Transport Minister Paulo Brenner "
        "is expected to meet both sides later this week, his office said. " + WIRE[2] + " " + WIRE[6]
    )  # a separate report that quotes the same statements the wire story does
    return Article(id="feature-valmora-pickets", title="At Valmora's port gates, a strike town holds its breath",
                   text=text, source="valmoratimes.example", date=day,
                   url="https://valmoratimes.example/2025/03/03/port-gates-strike")


# The Valmora port strike told in six dated articles (the first on three sites): the sample
# collection plus these is what the timeline and story-group tests of the assistant and UI read.
VALMORA = Path(__file__).parent / "fixtures" / "valmora.jsonl"


def with_valmora(sample_assistant, folder: Path):  # noqa: ANN001, ANN201 - rag.Assistant in and out
    """A copy of the sample assistant's index at ``folder`` with the Valmora story added."""
    assistant = sample_assistant.copy_to(folder / "index")
    report, build = assistant.add_articles([VALMORA])
    assert build is not None and build.added == 8, report.summary()
    return assistant
