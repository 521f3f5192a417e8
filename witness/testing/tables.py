"""Spreadsheet files for import tests: CSV in any encoding/delimiter, and XLSX (whose
second sheet must be ignored by the importer)."""

import csv

import openpyxl


def write_csv(path, rows, encoding="utf-8", delimiter=","):
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("其他").append(["ignored"])
    book.save(path)
    return path
