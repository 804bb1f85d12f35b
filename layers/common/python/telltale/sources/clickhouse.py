"""ClickHouse (external), over HTTP(S) with clickhouse-connect.

Left out of the allow-list, and so refused by name: every table function that reaches files, URLs, other
servers or engines (``file``, ``url``, ``s3``, ``remote``, ``cluster``, ``mysql``, ``postgresql``,
``jdbc``, ``odbc``, ``hdfs``, ``iceberg*``, ``deltaLake*``, ``hudi*``, ``azureBlobStorage``, ``mongodb``,
``redis``, ``sqlite``, ``input``, ``executable*``, ``merge``, ``loop``, ``view``, ``generateRandom``),
dictionary and join-engine lookups (``dictionary``, ``dictGet*``, ``joinGet``), ``sleep``,
``sleepEachRow``, ``throwIf``, and what describes the server (``version``, ``currentUser``,
``currentDatabase``, ``hostName``, ``getSetting``, ``getMacro``, ``uptime``). The database still runs every
query with ``readonly=1`` and result limits.
"""

from __future__ import annotations

from telltale.sources.base import SecretField, Source, SqlRules, words

FUNCTIONS = words("""
count sum avg min max uniq uniqExact uniqCombined uniqCombined64 uniqHLL12 uniqTheta any anyLast argMin argMax
groupArray groupUniqArray groupArraySorted quantile quantiles quantileExact quantileExactWeighted quantileTDigest
quantileTiming quantileDeterministic median medianExact stddevPop stddevSamp varPop varSamp corr covarPop covarSamp
sumIf countIf avgIf uniqIf uniqExactIf minIf maxIf anyIf argMinIf argMaxIf groupArrayIf topK topKWeighted sumMap
minMap maxMap simpleLinearRegression entropy skewPop kurtPop sumWithOverflow groupBitAnd groupBitOr groupBitXor
countDistinct row_number rank dense_rank percent_rank cume_dist ntile lagInFrame leadInFrame first_value last_value
nth_value lag lead now now64 today yesterday toDate toDate32 toDateTime toDateTime64 toDateOrNull toDateTimeOrNull
toStartOfDay toStartOfHour toStartOfMinute toStartOfSecond toStartOfWeek toStartOfMonth toStartOfQuarter
toStartOfYear toStartOfInterval toStartOfFiveMinutes toStartOfFiveMinute toStartOfTenMinutes toStartOfFifteenMinutes
toMonday toYear toMonth toDayOfMonth toDayOfWeek toDayOfYear toHour toMinute toSecond toQuarter toISOWeek toISOYear
toWeek toYearWeek toYYYYMM toYYYYMMDD toYYYYMMDDhhmmss toUnixTimestamp fromUnixTimestamp fromUnixTimestamp64Milli
toUnixTimestamp64Milli formatDateTime parseDateTimeBestEffort parseDateTimeBestEffortOrNull
parseDateTimeBestEffortOrZero parseDateTime64BestEffort dateDiff date_diff dateAdd date_add dateSub date_sub
dateTrunc date_trunc addSeconds addMinutes addHours addDays addWeeks addMonths addQuarters addYears subtractSeconds
subtractMinutes subtractHours subtractDays subtractWeeks subtractMonths subtractQuarters subtractYears toTimeZone
timeSlot toRelativeDayNum toRelativeHourNum toRelativeMonthNum toRelativeWeekNum toIntervalSecond toIntervalMinute
toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth toIntervalYear length lengthUTF8 char_length lower upper
lowerUTF8 upperUTF8 substring substr substringUTF8 concat concatWithSeparator trim trimBoth trimLeft trimRight ltrim
rtrim replaceAll replace replaceOne replaceRegexpAll replaceRegexpOne position positionCaseInsensitive positionUTF8
locate startsWith endsWith like ilike notLike match extract extractAll splitByChar splitByString splitByRegexp
arrayStringConcat leftPad rightPad lpad rpad repeat reverse reverseUTF8 base64Encode base64Decode hex unhex MD5 SHA1
SHA256 cityHash64 sipHash64 xxHash64 murmurHash3_64 empty notEmpty domain domainWithoutWWW topLevelDomain path
pathFull protocol queryString fragment extractURLParameter extractURLParameters cutQueryString cutWWW URLHierarchy
toValidUTF8 left right multiSearchAny countSubstrings toInt8 toInt16 toInt32 toInt64 toUInt8 toUInt16 toUInt32
toUInt64 toFloat32 toFloat64 toDecimal32 toDecimal64 toDecimal128 toString toFixedString toInt32OrNull toInt64OrNull
toFloat64OrNull toInt32OrZero toInt64OrZero toFloat64OrZero toUInt64OrNull toUInt64OrZero toTypeName toUUID
toUUIDOrNull toBool reinterpretAsString abs round roundBankers floor ceil ceiling trunc truncate sqrt cbrt exp exp2
exp10 log ln log2 log10 pow power intDiv intDivOrZero modulo moduloOrZero greatest least sign e pi sin cos tan asin
acos atan atan2 plus minus multiply divide negate gcd lcm if multiIf coalesce ifNull nullIf isNull isNotNull
assumeNotNull toNullable isFinite isNaN array arrayJoin has hasAny hasAll indexOf arrayMap arrayFilter arrayCount
arraySum arrayAvg arrayMin arrayMax arrayDistinct arraySort arrayReverseSort arrayReverse arraySlice arrayConcat
arrayElement arrayEnumerate arrayEnumerateUniq arrayFirst arrayLast arrayExists arrayAll arrayUniq arrayCompact
arrayZip arrayFlatten arrayPushBack arrayPushFront arrayPopBack arrayPopFront arrayProduct arrayCumSum
arrayDifference emptyArrayString range tuple tupleElement untuple map mapKeys mapValues mapContains JSONExtract
JSONExtractString JSONExtractInt JSONExtractUInt JSONExtractFloat JSONExtractBool JSONExtractRaw JSONExtractArrayRaw
JSONExtractKeys JSONExtractKeysAndValues JSONHas JSONLength JSONType isValidJSON visitParamExtractString
visitParamExtractInt visitParamExtractFloat visitParamExtractBool visitParamHas simpleJSONExtractString
simpleJSONExtractInt simpleJSONExtractFloat simpleJSONExtractBool simpleJSONHas toJSONString
""")

TABLE_FUNCTIONS = words("""
numbers numbers_mt generateSeries generate_series
""")

SOURCE = Source(
    slug="clickhouse",
    name="ClickHouse",
    description="Real-time analytics, time-series",
    secret_type="analytics-clickhouse",
    language="clickhouse",
    connector="telltale.connectors.clickhouse",
    test_query="SELECT 1",
    secret_fields=(
        SecretField("host", "string", "ClickHouse host", host=True),
        # Required, as spec 000's table says; 8443 is the usual HTTPS port, 8123 plain HTTP.
        SecretField("port", "integer", "Port (8443 for HTTPS, 8123 for plain HTTP)", minimum=1, maximum=65535),
        SecretField("database", "string", "Database name"),
        SecretField("username", "string", "Username"),
        SecretField("password", "string", "Password", secret=True, allow_empty=True),
        SecretField("secure", "boolean", "Use HTTPS (default: true)", required=False, default=True),
        SecretField("connect_timeout", "integer", "Seconds to wait for a connection", required=False, default=10,
                    minimum=1, maximum=60),
        SecretField("statement_timeout", "integer", "Seconds a query may run", required=False, default=30,
                    minimum=1, maximum=300),
    ),
    sql=SqlRules(dialect="clickhouse", functions=FUNCTIONS, table_functions=TABLE_FUNCTIONS,
                 system_schemas=frozenset({"system", "information_schema", "INFORMATION_SCHEMA"}),
                 secret_binding="typed"),
)
