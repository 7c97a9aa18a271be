"""The clinic type: a location, and the website that shows its content."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from cms.contenttypes import ContentType
from cms.jsonld import DAYS, LdEntry, Node
from cms.schemas import Base, WebUrlOrEmpty

Day = Literal["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
UrlPattern = Annotated[
    str,
    msgspec.Meta(pattern=r"^/[^\s]*\{slug\}[^\s]*$", examples=["/blog/{slug}"]),
]
Time = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["09:00"])]


class Geo(Base):
    """Coordinates of the clinic's door, in decimal degrees (WGS 84)."""

    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class OpeningHours(Base):
    """Hours on a set of days, local time of the clinic's time zone."""

    days: Annotated[list[Day], msgspec.Meta(min_length=1)]
    opens: Time
    closes: Time


class ClinicFields(Base):
    """Fields of a clinic besides the common ones."""

    address: Annotated[str, msgspec.Meta(description="Street address, first line.")] = ""
    city: str = ""
    province: Annotated[str, msgspec.Meta(description="Two-letter province code.")] = ""
    postal_code: str = ""
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] = "CA"
    phone: str = ""
    email: str = ""
    time_zone: Annotated[str, msgspec.Meta(description="IANA time zone.")] = "America/Edmonton"
    geo: Geo | None = None
    opening_hours: list[OpeningHours] = msgspec.field(default_factory=list)
    booking_url: Annotated[
        WebUrlOrEmpty,
        msgspec.Meta(
            description="Where patients book an appointment: an absolute http(s) URL, or empty."
        ),
    ] = ""
    site_url: Annotated[
        WebUrlOrEmpty,
        msgspec.Meta(
            description="Root URL of the clinic's public website: an absolute http(s) URL, "
            "or empty."
        ),
    ] = ""
    url_patterns: Annotated[
        dict[str, UrlPattern],
        msgspec.Meta(
            description="Per content type, the site's path for an entry, with `{slug}`, "
            'e.g. `{"article": "/blog/{slug}"}`. Canonical URLs and internal links are '
            "built from it."
        ),
    ] = msgspec.field(default_factory=dict)
    example_data: Annotated[
        bool, msgspec.Meta(description="True when the contact details are invented.")
    ] = False


def clinic_json_ld(entry: LdEntry) -> list[Node]:
    """A schema.org ``MedicalClinic``: address, coordinates, opening hours, booking."""
    data = entry.data
    geo = data.get("geo")
    return [
        {
            "@type": "MedicalClinic",
            "@id": entry.node_id,
            **entry.page(),
            "telephone": data.get("phone"),
            "email": data.get("email"),
            "address": {
                "@type": "PostalAddress",
                "streetAddress": data.get("address"),
                "addressLocality": data.get("city"),
                "addressRegion": data.get("province"),
                "postalCode": data.get("postal_code"),
                "addressCountry": data.get("country"),
            },
            "geo": (
                {"@type": "GeoCoordinates", "latitude": geo["latitude"],
                 "longitude": geo["longitude"]}
                if geo
                else None
            ),
            "openingHoursSpecification": [
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": [f"https://schema.org/{DAYS[d]}" for d in hours["days"]],
                    "opens": hours["opens"],
                    "closes": hours["closes"],
                }
                for hours in data.get("opening_hours", [])
            ],
            "potentialAction": (
                {
                    "@type": "ReserveAction",
                    "target": {"@type": "EntryPoint", "urlTemplate": data["booking_url"]},
                }
                if data.get("booking_url")
                else None
            ),
        }
    ]  # fmt: skip


CLINIC = ContentType(
    name="clinic",
    plural="clinics",
    fields=ClinicFields,
    label="Clinic",
    description="A clinic location and the website that shows its content.",
    default_sort="title",
    search_fields=("address", "city"),
    json_ld_type="MedicalClinic",
    json_ld=clinic_json_ld,
    has_feed=True,
)
