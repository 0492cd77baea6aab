"""Health domain: notifiable-disease case reports, syndromic counts, hospital capacity, public
health events (突发公共卫生事件)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from streams.schemas.common import (
    PERSONAL,
    Adcode,
    Count,
    DataModel,
    Ident,
    Name,
    Text,
    not_above,
)

# Classes of the Law on the Prevention and Control of Infectious Diseases: 甲 A, 乙 B, 丙 C.
DiseaseClass = Literal["A", "B", "C"]
CaseStatus = Literal["suspected", "clinical", "confirmed", "carrier"]
DiseaseCode = Annotated[str, StringConstraints(min_length=1, max_length=16)]


class CaseReport(DataModel):
    """One case of a notifiable disease (传染病报告卡)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "disease_code": "A00",
                    "disease_name": "霍乱",
                    "disease_class": "A",
                    "case_status": "confirmed",
                    "onset_date": "2023-08-02",
                    "county": "130681",
                    "facility": "涿州市医院",
                }
            ]
        }
    )

    disease_code: DiseaseCode = Field(description="Disease code (national list or ICD-10).")
    disease_name: Name = Field(description="Disease name, e.g. 霍乱.")
    disease_class: DiseaseClass = Field(description="Legal class: A 甲类, B 乙类, C 丙类.")
    managed_as_class_a: bool = Field(
        default=False, description="A class B disease managed as class A (按甲类管理)."
    )
    case_status: CaseStatus | None = None
    onset_date: dt.date = Field(description="Date of onset of symptoms.")
    diagnosis_date: dt.date | None = None
    county: Adcode | None = Field(default=None, description="County adcode of the case.")
    facility: Name | None = Field(default=None, description="Reporting facility.")
    patient_name: Name | None = Field(
        default=None, description="Patient's name. Personal data.", json_schema_extra=PERSONAL
    )
    patient_id_number: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Patient's ID number. Personal data.", json_schema_extra=PERSONAL
    )
    patient_age_years: int | None = Field(
        default=None,
        ge=0,
        le=150,
        description="Age in years. Personal data.",
        json_schema_extra=PERSONAL,
    )
    patient_sex: Literal["male", "female", "unknown"] | None = Field(
        default=None, description="Personal data.", json_schema_extra=PERSONAL
    )
    patient_phone: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Personal data.", json_schema_extra=PERSONAL
    )
    patient_address: Text | None = Field(
        default=None, description="Current address. Personal data.", json_schema_extra=PERSONAL
    )

    @field_validator("diagnosis_date")
    @classmethod
    def _diagnosis_after_onset(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        onset = info.data.get("onset_date")
        if value is not None and onset is not None and value < onset:
            raise ValueError("diagnosis_date is before onset_date")
        return value


Syndrome = Literal[
    "fever", "respiratory", "diarrhoea", "rash", "jaundice", "neurological", "haemorrhagic", "other"
]


class SyndromicCount(DataModel):
    """Visits with one syndrome at a sentinel facility over a period ending at ``occurred_at``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"syndrome": "diarrhoea", "count": 37, "period_hours": 24, "county": "130681"}
            ]
        }
    )

    syndrome: Syndrome
    count: Count = Field(description="Visits with the syndrome in the period.")
    period_hours: int = Field(default=24, ge=1, le=24 * 31, description="Length of the period, h.")
    facility: Name | None = None
    county: Adcode | None = None


class HospitalCapacity(DataModel):
    """Free capacity of one hospital."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "facility_id": "H130681001",
                    "facility_name": "涿州市医院",
                    "beds_total": 800,
                    "beds_free": 42,
                    "icu_total": 20,
                    "icu_free": 3,
                }
            ]
        }
    )

    facility_id: Ident
    facility_name: Name | None = None
    beds_total: Count | None = Field(default=None, description="Staffed beds.")
    beds_free: Count = Field(description="Free staffed beds.")
    icu_total: Count | None = None
    icu_free: Count | None = None
    ventilators_free: Count | None = None
    ambulances_available: Count | None = None

    _beds = not_above("beds_free", "beds_total")
    _icu = not_above("icu_free", "icu_total")


PublicHealthKind = Literal[
    "food_poisoning",
    "occupational_poisoning",
    "school_outbreak",
    "infectious_outbreak",
    "unexplained_cluster",
    "vaccination_reaction",
    "other",
]


class PublicHealthEvent(DataModel):
    """A public health emergency report (突发公共卫生事件)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "food_poisoning",
                    "cases": 42,
                    "deaths": 0,
                    "setting": "school",
                    "description": "学校食堂午餐后多人呕吐腹泻",
                    "county": "130602",
                }
            ]
        }
    )

    kind: PublicHealthKind
    cases: Count = Field(description="People ill.")
    deaths: Count = Field(default=0, description="People dead.")
    setting: Literal["school", "construction_site", "workplace", "community", "other"] | None = None
    suspected_agent: Name | None = Field(default=None, description="Suspected pathogen or toxin.")
    description: Text = ""
    county: Adcode | None = None

    _deaths = not_above("deaths", "cases")


MODELS: dict[str, type[DataModel]] = {
    "case_report": CaseReport,
    "syndromic_count": SyndromicCount,
    "hospital_capacity": HospitalCapacity,
    "public_health_event": PublicHealthEvent,
}
