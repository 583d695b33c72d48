"""The fixed wording of a complaint PDF in Russian, Kazakh and English.

Only the document's own words live here; what the user wrote (facts, request, addressee) and
the category labels (app.taxonomy) come in as data. Legal references are deliberately absent:
the country profile ships none that were checked against the law text, so the PDF prints a
blank line for the applicant to fill in by hand rather than an invented article.
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("ru", "kk", "en")

TEXTS: Final[dict[str, dict[str, str]]] = {
    "ru": {
        "title": "Жалоба",
        "to": "Кому",
        "from": "От",
        "phone": "тел.",
        "intro": "Сообщаю о следующих нарушениях, которые я наблюдал(а) лично:",
        "station": "Избирательный участок",
        "address": "Адрес",
        "when": "Дата и время",
        "category": "Вид нарушения",
        "what": "Что произошло",
        "witnesses": "Свидетели",
        "no_witnesses": "не указаны",
        "evidence_ref": "Доказательства",
        "files_word": "файлы",
        "see_appendix": "см. приложение",
        "legal": "Правовое основание",
        "request": "Прошу",
        "attachments": "Приложения",
        "attach_photos": "Доказательства: {n} файл(ов) — изображения, SHA-256 и метаданные "
        "в приложении к настоящей жалобе.",
        "attach_originals": "Исходные файлы доказательств вложены в этот PDF без изменений "
        "(вложения PDF, {size}).",
        "attach_none": "Файлы доказательств не прилагаются.",
        "date": "Дата",
        "signature": "Подпись",
        "esign_note": "Документ подписан электронной подписью (отметка на стр. 1); "
        "проверка: pdfsig, Adobe Reader или «kua verify».",
        "appendix": "Приложение. Доказательства",
        "appendix_note": "Каждое изображение ниже уменьшено для печати; исходный файл вложен в "
        "этот PDF без изменений и опознаётся по своему SHA-256 (проверка: "
        "pdfdetach -saveall ФАЙЛ.pdf, затем sha256sum).",
        "appendix_note_no_originals": "Каждое изображение ниже уменьшено для печати; исходный "
        "файл опознаётся по своему SHA-256. Исходные файлы в этот PDF не вложены.",
        "no_files": "К жалобе не приложено ни одного файла доказательств.",
        "file": "Файл",
        "incident": "нарушение",
        "sha256": "SHA-256",
        "size": "Размер",
        "taken": "Время съёмки",
        "gps": "Координаты (GPS)",
        "camera": "Камера",
        "original": "Исходный файл",
        "attachment": "Вложение в PDF",
        "not_embedded": "не вложен",
        "unknown": "нет данных",
        "no_preview": "Изображение не удалось показать; исходный файл вложен.",
        "page": "Страница {x} из {y}",
        "doc_id": "Документ",
        "bytes": "байт",
        "mb": "МБ",
        "protocol_heading": "Цифры протокола: копии и официальные данные",
        "protocol_legend": "Выделены цифры, которые расходятся с графой «{source}»; "
        "«—» — строка не заполнена (неизвестна).",
        "protocol_line": "Строка протокола",
        "protocol_candidates": "Голоса за кандидатов",
        "source_observer": "Копия наблюдателя",
        "source_posted": "Вывешенная копия",
        "source_official": "Официальные данные",
        "failed_heading": "Невыполненные контрольные соотношения",
        "failed_none": "Все контрольные соотношения, которые удалось проверить, выполняются.",
        "failed_sides": "левая часть {left}, правая часть {right} (разница {diff:+d})",
        "failed_unchecked": "Не проверено из-за незаполненных строк: {n}.",
        "kind_hard": "обязательное",
        "kind_soft": "нестрогое",
        "stamp": "Подписано электронной подписью\n%(signer)s\n%(ts)s\n%(level)s",
    },
    "kk": {
        "title": "Шағым",
        "to": "Кімге",
        "from": "Кімнен",
        "phone": "тел.",
        "intro": "Өзім куә болған мына бұзушылықтар туралы хабарлаймын:",
        "station": "Сайлау учаскесі",
        "address": "Мекенжайы",
        "when": "Күні мен уақыты",
        "category": "Бұзушылық түрі",
        "what": "Не болды",
        "witnesses": "Куәгерлер",
        "no_witnesses": "көрсетілмеген",
        "evidence_ref": "Дәлелдемелер",
        "files_word": "файлдар",
        "see_appendix": "қосымшаны қараңыз",
        "legal": "Құқықтық негіздеме",
        "request": "Сұраймын",
        "attachments": "Қосымшалар",
        "attach_photos": "Дәлелдемелер: {n} файл — суреттері, SHA-256 және метадеректері осы "
        "шағымның қосымшасында.",
        "attach_originals": "Дәлелдемелердің бастапқы файлдары осы PDF-ке өзгеріссіз салынған "
        "(PDF қосымшалары, {size}).",
        "attach_none": "Дәлелдеме файлдары қоса берілмейді.",
        "date": "Күні",
        "signature": "Қолы",
        "esign_note": "Құжатқа электрондық қолтаңба қойылған (1-беттегі белгі); тексеру: "
        "pdfsig, Adobe Reader немесе «kua verify».",
        "appendix": "Қосымша. Дәлелдемелер",
        "appendix_note": "Төмендегі әр сурет басып шығару үшін кішірейтілген; бастапқы файл осы "
        "PDF-ке өзгеріссіз салынған және өзінің SHA-256 мәні бойынша анықталады (тексеру: "
        "pdfdetach -saveall ФАЙЛ.pdf, содан кейін sha256sum).",
        "appendix_note_no_originals": "Төмендегі әр сурет басып шығару үшін кішірейтілген; "
        "бастапқы файл өзінің SHA-256 мәні бойынша анықталады. Бастапқы файлдар осы PDF-ке "
        "салынбаған.",
        "no_files": "Шағымға бірде-бір дәлелдеме файлы қоса берілмеген.",
        "file": "Файл",
        "incident": "бұзушылық",
        "sha256": "SHA-256",
        "size": "Өлшемі",
        "taken": "Түсірілген уақыты",
        "gps": "Координаттар (GPS)",
        "camera": "Камера",
        "original": "Бастапқы файл",
        "attachment": "PDF қосымшасы",
        "not_embedded": "салынбаған",
        "unknown": "дерек жоқ",
        "no_preview": "Суретті көрсету мүмкін болмады; бастапқы файл салынған.",
        "page": "{y} беттің {x}-беті",
        "doc_id": "Құжат",
        "bytes": "байт",
        "mb": "МБ",
        "protocol_heading": "Хаттама сандары: көшірмелер және ресми деректер",
        "protocol_legend": "«{source}» бағанынан өзгеше сандар белгіленген; "
        "«—» — жол толтырылмаған (белгісіз).",
        "protocol_line": "Хаттама жолы",
        "protocol_candidates": "Кандидаттарға берілген дауыстар",
        "source_observer": "Байқаушы көшірмесі",
        "source_posted": "Ілінген көшірме",
        "source_official": "Ресми деректер",
        "failed_heading": "Орындалмаған бақылау арақатынастары",
        "failed_none": "Тексеру мүмкін болған бақылау арақатынастарының бәрі орындалады.",
        "failed_sides": "сол жағы {left}, оң жағы {right} (айырма {diff:+d})",
        "failed_unchecked": "Толтырылмаған жолдар салдарынан тексерілмегені: {n}.",
        "kind_hard": "міндетті",
        "kind_soft": "қатаң емес",
        "stamp": "Электрондық қолтаңбамен қол қойылды\n%(signer)s\n%(ts)s\n%(level)s",
    },
    "en": {
        "title": "Complaint",
        "to": "To",
        "from": "From",
        "phone": "phone",
        "intro": "I report the following violations, which I observed in person:",
        "station": "Polling station",
        "address": "Address",
        "when": "Date and time",
        "category": "Type of violation",
        "what": "What happened",
        "witnesses": "Witnesses",
        "no_witnesses": "none named",
        "evidence_ref": "Evidence",
        "files_word": "files",
        "see_appendix": "see the appendix",
        "legal": "Legal basis",
        "request": "I request",
        "attachments": "Attachments",
        "attach_photos": "Evidence: {n} file(s) — pictures, SHA-256 and metadata in the appendix "
        "to this complaint.",
        "attach_originals": "The original evidence files are embedded in this PDF unchanged "
        "(PDF attachments, {size}).",
        "attach_none": "No evidence files are attached.",
        "date": "Date",
        "signature": "Signature",
        "esign_note": "This document carries an electronic signature (stamp on page 1); "
        "check it with pdfsig, Adobe Reader or “kua verify”.",
        "appendix": "Appendix. Evidence",
        "appendix_note": "Each picture below is downscaled for print; the original file is "
        "embedded in this PDF unchanged and is identified by its SHA-256 (check: "
        "pdfdetach -saveall FILE.pdf, then sha256sum).",
        "appendix_note_no_originals": "Each picture below is downscaled for print; the original "
        "file is identified by its SHA-256. The original files are not embedded in this PDF.",
        "no_files": "No evidence files are attached to this complaint.",
        "file": "File",
        "incident": "incident",
        "sha256": "SHA-256",
        "size": "Size",
        "taken": "Taken at",
        "gps": "Location (GPS)",
        "camera": "Camera",
        "original": "Original file",
        "attachment": "PDF attachment",
        "not_embedded": "not embedded",
        "unknown": "unknown",
        "no_preview": "The picture could not be shown; the original file is embedded.",
        "page": "Page {x} of {y}",
        "doc_id": "Document",
        "bytes": "bytes",
        "mb": "MB",
        "protocol_heading": "Protocol figures: the copies and the official result",
        "protocol_legend": "Highlighted: figures that differ from the “{source}” column; "
        "“—”: the line is blank (unknown).",
        "protocol_line": "Protocol line",
        "protocol_candidates": "Votes for the candidates",
        "source_observer": "Observer's copy",
        "source_posted": "Posted copy",
        "source_official": "Official result",
        "failed_heading": "Control relations that fail",
        "failed_none": "Every control relation that could be checked holds.",
        "failed_sides": "left side {left}, right side {right} (difference {diff:+d})",
        "failed_unchecked": "Left unchecked because a line they use is blank: {n}.",
        "kind_hard": "hard",
        "kind_soft": "soft",
        "stamp": "Digitally signed by\n%(signer)s\n%(ts)s\n%(level)s",
    },
}


def text(lang: str, key: str) -> str:
    return TEXTS.get(lang, TEXTS["en"])[key]
