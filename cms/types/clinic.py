"""The clinic type: a location, and the website that shows its content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from cms.contenttypes import ContentType
from cms.jsonld import DAY_NAMES, common, compact
from cms.schemas import Base

Day = Literal["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
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
    booking_url: str = ""
    site_url: Annotated[
        str, msgspec.Meta(description="Root URL of the clinic's public website.")
    ] = ""
    url_patterns: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="Per content type, the site's path for an entry, with `{slug}`, "
            'e.g. `{"article": "/blog/{slug}"}`.'
        ),
    ] = msgspec.field(default_factory=dict)
    example_data: Annotated[
        bool, msgspec.Meta(description="True when the contact details are invented.")
    ] = False


def clinic_json_ld(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A clinic as a schema.org ``MedicalClinic`` with address, geo and hours."""
    geo = doc.get("geo")
    return compact(
        {
            **common(doc, "MedicalClinic"),
            "address": {
                "@type": "PostalAddress",
                "streetAddress": doc.get("address"),
                "addressLocality": doc.get("city"),
                "addressRegion": doc.get("province"),
                "postalCode": doc.get("postal_code"),
                "addressCountry": doc.get("country"),
            },
            "telephone": doc.get("phone"),
            "email": doc.get("email"),
            "url": doc.get("site_url"),
            "geo": {"@type": "GeoCoordinates", **geo} if geo else None,
            "openingHoursSpecification": [
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": [DAY_NAMES[d] for d in hours["days"]],
                    "opens": hours["opens"],
                    "closes": hours["closes"],
                }
                for hours in doc.get("opening_hours", [])
            ],
        }
    )


CLINIC = ContentType(
    name="clinic",
    plural="clinics",
    fields=ClinicFields,
    label="Clinic",
    description="A clinic location and the website that shows its content.",
    default_sort="title",
    json_ld=clinic_json_ld,
)
