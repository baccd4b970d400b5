"""Curated tables that the ``countries`` dataset applies to the countryinfo 1.0.1 data.

countryinfo stores currencies as ISO 4217 codes and languages as ISO 639-1
codes, and some of its entries are dissolved states, dependent territories or
countries whose capital is disputed, shared or out of date. These tables give
the English names and list what is left out, with the reason.
"""

from __future__ import annotations

__all__ = [
    "AMBIGUOUS_CAPITAL",
    "CURRENCY_NAMES",
    "DEPENDENT_TERRITORIES",
    "DISSOLVED",
    "LANGUAGE_NAMES",
    "NAME_OVERRIDES",
    "OUTDATED_CURRENCY",
    "PREFERRED_ENTRY",
]

DISSOLVED: frozenset[str] = frozenset({"ANT", "SCG"})
"""Netherlands Antilles (dissolved 2010) and Serbia and Montenegro (2006)."""

AMBIGUOUS_CAPITAL: dict[str, str] = {
    "BDI": "Gitega replaced Bujumbura in 2019; countryinfo still lists Bujumbura",
    "BEN": "Porto-Novo is the official capital but Cotonou is the seat of government",
    "BOL": "Sucre is the constitutional capital but La Paz is the seat of government",
    "ISR": "the status of Jerusalem as capital is disputed",
    "KAZ": "Nur-Sultan was renamed Astana in 2022",
    "LKA": "Sri Jayawardenepura Kotte is the capital; countryinfo lists Colombo",
    "MMR": "listed twice, as Burma and as Myanmar",
    "NRU": "Nauru has no official capital",
    "PSE": "listed twice with different capitals, and the capital is disputed",
    "SWZ": "Mbabane and Lobamba are both called capital",
    "VAT": "a city-state listed twice",
    "ZAF": "South Africa has three capitals",
}
"""Countries left out of the capital relation, with the reason."""

DEPENDENT_TERRITORIES: frozenset[str] = frozenset(
    {
        "ABW", "AIA", "ALA", "ASM", "ATA", "ATF", "BES", "BLM", "BMU", "BVT", "CCK", "COK",
        "CUW", "CXR", "CYM", "ESH", "FLK", "FRO", "GGY", "GIB", "GLP", "GRL", "GUF", "GUM",
        "HKG", "HMD", "IMN", "IOT", "JEY", "MAC", "MAF", "MNP", "MSR", "MTQ", "MYT", "NCL",
        "NFK", "NIU", "PCN", "PRI", "PYF", "REU", "SGS", "SHN", "SJM", "SPM", "SXM", "TCA",
        "TKL", "UMI", "VGB", "VIR", "WLF",
    }
)  # fmt: skip
"""Territories that are not sovereign states, plus Antarctica and Western Sahara;
included only with the ``territories`` option."""

PREFERRED_ENTRY: dict[str, str] = {
    "GBR": "United Kingdom",
    "MMR": "Myanmar",
    "PSE": "Palestine",
    "VAT": "Vatican City State",
}
"""For ISO codes that countryinfo lists under two names, the entry to keep."""

NAME_OVERRIDES: dict[str, str] = {
    "MKD": "North Macedonia",
    "USA": "the United States",
    "GBR": "the United Kingdom",
    "ARE": "the United Arab Emirates",
    "NLD": "the Netherlands",
    "PHL": "the Philippines",
    "CZE": "the Czech Republic",
    "CAF": "the Central African Republic",
    "DOM": "the Dominican Republic",
    "COD": "the Democratic Republic of the Congo",
    "COG": "the Republic of the Congo",
    "MDV": "the Maldives",
    "COM": "the Comoros",
    "SYC": "the Seychelles",
    "MHL": "the Marshall Islands",
    "SLB": "the Solomon Islands",
    "FSM": "the Federated States of Micronesia",
    "BHS": "the Bahamas",
    "GMB": "the Gambia",
}
"""Country names as they read inside a sentence, where countryinfo's differ."""

OUTDATED_CURRENCY: dict[str, str] = {
    "HRK": "Croatia adopted the euro in 2023",
    "BGN": "Bulgaria adopted the euro in 2026",
}
"""Currency codes that countryinfo lists but that are no longer the answer."""

CURRENCY_NAMES: dict[str, str] = {
    "AED": "UAE dirham", "AFN": "afghani", "ALL": "lek", "AMD": "dram", "AOA": "kwanza",
    "ARS": "Argentine peso", "AUD": "Australian dollar", "AWG": "Aruban florin",
    "AZN": "manat", "BAM": "convertible mark", "BBD": "Barbadian dollar", "BDT": "taka",
    "BHD": "Bahraini dinar", "BIF": "Burundian franc", "BMD": "Bermudian dollar",
    "BND": "Brunei dollar", "BOB": "boliviano", "BRL": "real", "BSD": "Bahamian dollar",
    "BTN": "ngultrum", "BWP": "pula", "BYR": "Belarusian ruble", "BZD": "Belize dollar",
    "CAD": "Canadian dollar", "CDF": "Congolese franc", "CHF": "Swiss franc",
    "CLP": "Chilean peso", "CNY": "renminbi", "COP": "Colombian peso", "CRC": "colón",
    "CUP": "Cuban peso", "CVE": "Cape Verdean escudo", "CZK": "Czech koruna",
    "DJF": "Djiboutian franc", "DKK": "Danish krone", "DOP": "Dominican peso",
    "DZD": "Algerian dinar", "EGP": "Egyptian pound", "ERN": "nakfa", "ETB": "birr",
    "EUR": "euro", "FJD": "Fijian dollar", "FKP": "Falkland Islands pound",
    "GBP": "pound sterling", "GEL": "lari", "GHS": "cedi", "GIP": "Gibraltar pound",
    "GMD": "dalasi", "GNF": "Guinean franc", "GTQ": "quetzal", "GYD": "Guyanese dollar",
    "HKD": "Hong Kong dollar", "HNL": "lempira", "HTG": "gourde", "HUF": "forint",
    "IDR": "rupiah", "ILS": "shekel", "INR": "Indian rupee", "IQD": "Iraqi dinar",
    "IRR": "Iranian rial", "ISK": "Icelandic króna", "JMD": "Jamaican dollar",
    "JOD": "Jordanian dinar", "JPY": "yen", "KES": "Kenyan shilling", "KGS": "som",
    "KHR": "riel", "KMF": "Comorian franc", "KPW": "North Korean won",
    "KRW": "South Korean won", "KWD": "Kuwaiti dinar", "KYD": "Cayman Islands dollar",
    "KZT": "tenge", "LAK": "kip", "LBP": "Lebanese pound", "LKR": "Sri Lankan rupee",
    "LRD": "Liberian dollar", "LSL": "loti", "LYD": "Libyan dinar", "MAD": "Moroccan dirham",
    "MDL": "Moldovan leu", "MGA": "ariary", "MKD": "denar", "MMK": "kyat", "MNT": "tögrög",
    "MOP": "pataca", "MRO": "ouguiya", "MUR": "Mauritian rupee", "MVR": "rufiyaa",
    "MWK": "Malawian kwacha", "MXN": "Mexican peso", "MYR": "ringgit", "MZN": "metical",
    "NAD": "Namibian dollar", "NGN": "naira", "NIO": "córdoba", "NOK": "Norwegian krone",
    "NPR": "Nepalese rupee", "NZD": "New Zealand dollar", "OMR": "Omani rial",
    "PAB": "balboa", "PEN": "sol", "PGK": "kina", "PHP": "Philippine peso",
    "PKR": "Pakistani rupee", "PLN": "złoty", "PYG": "guaraní", "QAR": "Qatari riyal",
    "RON": "Romanian leu", "RSD": "Serbian dinar", "RUB": "Russian ruble",
    "RWF": "Rwandan franc", "SAR": "Saudi riyal", "SBD": "Solomon Islands dollar",
    "SCR": "Seychellois rupee", "SDG": "Sudanese pound", "SEK": "Swedish krona",
    "SGD": "Singapore dollar", "SHP": "Saint Helena pound", "SLL": "leone",
    "SOS": "Somali shilling", "SRD": "Surinamese dollar", "SSP": "South Sudanese pound",
    "STD": "dobra", "SVC": "Salvadoran colón", "SYP": "Syrian pound", "SZL": "lilangeni",
    "THB": "baht", "TJS": "somoni", "TMT": "Turkmenistan manat", "TND": "Tunisian dinar",
    "TOP": "pa\u02bbanga", "TRY": "Turkish lira", "TTD": "Trinidad and Tobago dollar",
    "TWD": "New Taiwan dollar", "TZS": "Tanzanian shilling", "UAH": "hryvnia",
    "UGX": "Ugandan shilling", "USD": "US dollar", "UYU": "Uruguayan peso", "UZS": "sum",
    "VEF": "bolívar", "VND": "đồng", "VUV": "vatu", "WST": "tālā",
    "XAF": "Central African CFA franc", "XCD": "East Caribbean dollar",
    "XOF": "West African CFA franc", "XPF": "CFP franc", "YER": "Yemeni rial",
    "ZAR": "rand", "ZMK": "Zambian kwacha",
}  # fmt: skip
"""English names of the ISO 4217 codes in the data, as they follow ``the``."""

LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "ay": "Aymara", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bi": "Bislama", "bn": "Bengali",
    "bs": "Bosnian", "ca": "Catalan", "ch": "Chamorro", "cnr": "Montenegrin", "cs": "Czech",
    "da": "Danish", "de": "German", "dv": "Dhivehi", "dz": "Dzongkha", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Persian", "ff": "Fula",
    "fi": "Finnish", "fj": "Fijian", "fo": "Faroese", "fr": "French", "ga": "Irish",
    "gn": "Guaraní", "gv": "Manx", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian",
    "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kg": "Kongo",
    "kk": "Kazakh", "kl": "Greenlandic", "km": "Khmer", "ko": "Korean", "ku": "Kurdish",
    "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lu": "Luba-Katanga", "lv": "Latvian", "mg": "Malagasy",
    "mh": "Marshallese", "mi": "Māori", "mk": "Macedonian", "mn": "Mongolian", "ms": "Malay",
    "mt": "Maltese", "my": "Burmese", "na": "Nauruan", "nb": "Norwegian Bokmål",
    "nd": "Northern Ndebele", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "nr": "Southern Ndebele", "ny": "Chichewa", "oc": "Occitan",
    "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua",
    "rn": "Kirundi", "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sg": "Sango",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovene", "sm": "Samoan", "sn": "Shona",
    "so": "Somali", "sq": "Albanian", "sr": "Serbian", "ss": "Swazi", "st": "Sotho",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "tg": "Tajik", "th": "Thai",
    "ti": "Tigrinya", "tk": "Turkmen", "tn": "Tswana", "to": "Tongan", "tr": "Turkish",
    "ts": "Tsonga", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "ve": "Venda",
    "vi": "Vietnamese", "xh": "Xhosa", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip
"""English names of the ISO 639-1 codes in the data (plus ``cnr``, Montenegrin).

The data's ``rs`` (not an ISO 639-1 code) is left unnamed, so it is never used."""
