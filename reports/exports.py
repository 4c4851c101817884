"""Reports as files: CSV (UTF-8, header row, streamed) and PDF (reportlab: title, range, tables, charts)."""

import csv
import io
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from bloodbank.models import BloodUnit


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text, one line at a time: memory stays flat however many rows come."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the BOM lets spreadsheet programs read UTF-8
    for row in rows:
        yield writer.writerow(row)


def report_table(name: str, figures: dict) -> tuple[list[str], list[list]]:
    """The main table of a report as a header and rows (what the CSV holds)."""
    if name == "blood-utilisation":
        header = ["month", "blood_group", "component", "collected", "issued", "transfused", "expired", "discarded"]
        return header, [[row[h] for h in header] for row in figures["rows"]]
    if name == "donors":
        header = ["figure", "value"]
        scalar = [k for k, v in figures.items() if not isinstance(v, (list, dict))]
        rows = [[k, figures[k]] for k in scalar]
        rows += [[f"donations {row['month']}", row["donations"]] for row in figures["donations_per_month"]]
        rows += [[f"deferral: {row['reason']}", row["count"]] for row in figures["deferral_reasons"]]
        return header, rows
    if name == "requests":
        header = ["figure", "value"]
        rows = [
            ["requests", figures["overall"]["requests"]],
            ["fulfilled", figures["overall"]["fulfilled"]],
            ["fulfilment_rate", figures["overall"]["rate"]],
            ["urgent_requests", figures["urgent"]["requests"]],
            ["urgent_fulfilled", figures["urgent"]["fulfilled"]],
            ["urgent_fulfilment_rate", figures["urgent"]["rate"]],
            ["cancelled", figures["cancelled"]],
            ["hours_to_fulfil_median", figures["hours_to_fulfil_median"]],
            ["hours_to_fulfil_p90", figures["hours_to_fulfil_p90"]],
        ]
        rows += [[f"transfers_in {status}", n] for status, n in sorted(figures["transfers_in"].items())]
        rows += [[f"transfers_out {status}", n] for status, n in sorted(figures["transfers_out"].items())]
        return header, rows
    if name == "diagnostics":
        header = [
            "condition",
            "model",
            "version",
            "status",
            "analyses",
            "positive",
            "positive_share",
            "confirmed",
            "agreed",
        ]
        rows = [[row[h] for h in header] for row in figures["rows"]]
        rows += [
            [
                "agreement",
                row["model"],
                row["version"],
                "confirmed",
                row["confirmed"],
                f"accuracy {row['accuracy']}",
                f"sensitivity {row['sensitivity']}",
                f"specificity {row['specificity']}",
                "",
            ]
            for row in figures["per_model"]
        ]
        rows.append(
            [
                "turnaround",
                "",
                "",
                "seconds",
                "",
                f"median {figures['turnaround_seconds_median']}",
                f"p90 {figures['turnaround_seconds_p90']}",
                "",
                "",
            ]
        )
        return header, rows
    raise KeyError(name)


UNIT_EXPORT_HEADER = [
    "din",
    "component",
    "blood_group",
    "volume_ml",
    "status",
    "hospital_fin",
    "collected_at",
    "expires_at",
]


def unit_rows(hospitals) -> Iterator[list]:
    """Every unit of ``hospitals``, read from the database in chunks."""
    units = (
        BloodUnit.objects.filter(hospital__in=hospitals)
        .order_by("pk")
        .values_list(
            "din", "component", "blood_group", "volume_ml", "status", "hospital__fin", "collected_at", "expires_at"
        )
    )
    for din, component, group, volume, status, fin, collected, expires in units.iterator(chunk_size=2000):
        yield [din, component, group, volume, status, fin, collected.isoformat(), expires.isoformat()]


def _bar_chart(labels: list[str], series: list[list[float]], names: list[str]) -> Drawing:
    drawing = Drawing(480, 200)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, 420, 150
    if not labels:  # an empty period: one empty category (reportlab cannot scale an axis over no values)
        labels, series = [""], [[0] for _ in series] or [[0]]
    chart.data = series
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    palette = [
        colors.HexColor("#0d6efd"),
        colors.HexColor("#dc3545"),
        colors.HexColor("#198754"),
        colors.HexColor("#fd7e14"),
    ]
    for index in range(len(chart.data)):
        chart.bars[index].fillColor = palette[index % len(palette)]
    drawing.add(chart)
    return drawing


def chart_series(name: str, figures: dict) -> tuple[list[str], list[list[float]], list[str]]:
    """Labels, series and series names of the report's chart (shared by the page and the PDF)."""
    if name == "blood-utilisation":
        by_month: dict[str, list[int]] = {}
        for row in figures["rows"]:
            totals = by_month.setdefault(row["month"], [0, 0, 0])
            totals[0] += row["collected"]
            totals[1] += row["issued"]
            totals[2] += row["expired"] + row["discarded"]
        labels = sorted(by_month)
        return labels, [[by_month[m][i] for m in labels] for i in range(3)], ["collected", "issued", "wasted"]
    if name == "donors":
        labels = [row["month"] for row in figures["donations_per_month"]]
        return labels, [[row["donations"] for row in figures["donations_per_month"]]], ["donations"]
    if name == "requests":
        return (
            ["all", "urgency 4-5"],
            [
                [figures["overall"]["requests"], figures["urgent"]["requests"]],
                [figures["overall"]["fulfilled"], figures["urgent"]["fulfilled"]],
            ],
            ["requests", "fulfilled"],
        )
    if name == "diagnostics":
        labels = [f"{row['condition']} / {row['model']} v{row['version']}" for row in figures["rows"]]
        return (
            labels,
            [[row["analyses"] for row in figures["rows"]], [row["positive"] for row in figures["rows"]]],
            ["analyses", "positive"],
        )
    raise KeyError(name)


def report_pdf(*, title: str, period_label: str, scope_label: str, name: str, figures: dict) -> bytes:
    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="HealthSync")
    header, rows = report_table(name, figures)
    table = Table(
        [header] + [["" if v is None else str(v) for v in row] for row in rows] or [["No data"]], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("FONTSIZE", (0, 0), (-1, -1), 7),
            ]
        )
    )
    labels, series, names = chart_series(name, figures)
    story = [  # Paragraph reads its text as ReportLab markup (<img>, <a>): every value goes in escaped
        Paragraph(escape(title), styles["Title"]),
        Paragraph(
            escape(f"{scope_label}. Period: {period_label}. Generated {timezone.localtime():%Y-%m-%d %H:%M}."),
            styles["Normal"],
        ),
        Spacer(1, 12),
        Paragraph(escape("Chart: " + ", ".join(names)), styles["Heading3"]),
        _bar_chart(labels, series, names),
        Spacer(1, 12),
        Paragraph("Figures", styles["Heading3"]),
        table,
    ]
    document.build(story)
    return buffer.getvalue()
