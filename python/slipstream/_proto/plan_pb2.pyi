from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARQUET: _ClassVar[FileFormat]
    CSV: _ClassVar[FileFormat]
    IPC: _ClassVar[FileFormat]
PARQUET: FileFormat
CSV: FileFormat
IPC: FileFormat

class Query(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: Node
    def __init__(self, root: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class Upload(_message.Message):
    __slots__ = ("table", "mode")
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CREATE: _ClassVar[Upload.Mode]
        REPLACE: _ClassVar[Upload.Mode]
        APPEND: _ClassVar[Upload.Mode]
    CREATE: Upload.Mode
    REPLACE: Upload.Mode
    APPEND: Upload.Mode
    TABLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    table: str
    mode: Upload.Mode
    def __init__(self, table: _Optional[str] = ..., mode: _Optional[_Union[Upload.Mode, str]] = ...) -> None: ...

class Write(_message.Message):
    __slots__ = ("query", "table", "mode", "path")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    query: Query
    table: str
    mode: Upload.Mode
    path: str
    def __init__(self, query: _Optional[_Union[Query, _Mapping]] = ..., table: _Optional[str] = ..., mode: _Optional[_Union[Upload.Mode, str]] = ..., path: _Optional[str] = ...) -> None: ...

class UploadResult(_message.Message):
    __slots__ = ("table", "rows_written", "table_rows")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ROWS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    TABLE_ROWS_FIELD_NUMBER: _ClassVar[int]
    table: str
    rows_written: int
    table_rows: int
    def __init__(self, table: _Optional[str] = ..., rows_written: _Optional[int] = ..., table_rows: _Optional[int] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("query", "partition", "output", "shuffle", "compress", "query_id")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    COMPRESS_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    query: Query
    partition: int
    output: OutputKey
    shuffle: bool
    compress: bool
    query_id: str
    def __init__(self, query: _Optional[_Union[Query, _Mapping]] = ..., partition: _Optional[int] = ..., output: _Optional[_Union[OutputKey, _Mapping]] = ..., shuffle: _Optional[bool] = ..., compress: _Optional[bool] = ..., query_id: _Optional[str] = ...) -> None: ...

class OutputKey(_message.Message):
    __slots__ = ("query_id", "stage", "task", "attempt", "bucket")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    stage: int
    task: int
    attempt: int
    bucket: int
    def __init__(self, query_id: _Optional[str] = ..., stage: _Optional[int] = ..., task: _Optional[int] = ..., attempt: _Optional[int] = ..., bucket: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("query_id", "query", "stage", "task", "attempt", "buckets", "broadcast_rows", "fingerprint", "share", "inputs", "compress", "coordinator")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_ROWS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    COMPRESS_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    query: Query
    stage: int
    task: int
    attempt: int
    buckets: int
    broadcast_rows: int
    fingerprint: str
    share: Share
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    compress: bool
    coordinator: str
    def __init__(self, query_id: _Optional[str] = ..., query: _Optional[_Union[Query, _Mapping]] = ..., stage: _Optional[int] = ..., task: _Optional[int] = ..., attempt: _Optional[int] = ..., buckets: _Optional[int] = ..., broadcast_rows: _Optional[int] = ..., fingerprint: _Optional[str] = ..., share: _Optional[_Union[Share, _Mapping]] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., compress: _Optional[bool] = ..., coordinator: _Optional[str] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("parts", "files")
    PARTS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedScalarFieldContainer[str]
    files: _containers.RepeatedCompositeFieldContainer[FileShare]
    def __init__(self, parts: _Optional[_Iterable[str]] = ..., files: _Optional[_Iterable[_Union[FileShare, _Mapping]]] = ...) -> None: ...

class FileShare(_message.Message):
    __slots__ = ("path", "row_groups")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ROW_GROUPS_FIELD_NUMBER: _ClassVar[int]
    path: str
    row_groups: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, path: _Optional[str] = ..., row_groups: _Optional[_Iterable[int]] = ...) -> None: ...

class Input(_message.Message):
    __slots__ = ("stage", "sources", "bucket")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    stage: int
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    bucket: int
    def __init__(self, stage: _Optional[int] = ..., sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ..., bucket: _Optional[int] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("address", "node", "task", "attempt")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    address: str
    node: str
    task: int
    attempt: int
    def __init__(self, address: _Optional[str] = ..., node: _Optional[str] = ..., task: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("rows", "bytes", "rows_read", "bytes_read", "spilled_bytes")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    SPILLED_BYTES_FIELD_NUMBER: _ClassVar[int]
    rows: int
    bytes: int
    rows_read: int
    bytes_read: int
    spilled_bytes: int
    def __init__(self, rows: _Optional[int] = ..., bytes: _Optional[int] = ..., rows_read: _Optional[int] = ..., bytes_read: _Optional[int] = ..., spilled_bytes: _Optional[int] = ...) -> None: ...

class StorePart(_message.Message):
    __slots__ = ("upload_id", "part_id", "table", "data", "checksum", "source")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    part_id: str
    table: str
    data: bytes
    checksum: str
    source: str
    def __init__(self, upload_id: _Optional[str] = ..., part_id: _Optional[str] = ..., table: _Optional[str] = ..., data: _Optional[bytes] = ..., checksum: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class StoreOutput(_message.Message):
    __slots__ = ("output", "table", "upload_id")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    output: OutputKey
    table: str
    upload_id: str
    def __init__(self, output: _Optional[_Union[OutputKey, _Mapping]] = ..., table: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class StoredParts(_message.Message):
    __slots__ = ("parts",)
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, parts: _Optional[_Iterable[bytes]] = ...) -> None: ...

class WriteOutput(_message.Message):
    __slots__ = ("output", "path")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    output: OutputKey
    path: str
    def __init__(self, output: _Optional[_Union[OutputKey, _Mapping]] = ..., path: _Optional[str] = ...) -> None: ...

class Written(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    def __init__(self, rows: _Optional[int] = ...) -> None: ...

class Release(_message.Message):
    __slots__ = ("query_id", "keep")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    keep: int
    def __init__(self, query_id: _Optional[str] = ..., keep: _Optional[int] = ...) -> None: ...

class CommitTable(_message.Message):
    __slots__ = ("manifest", "upload_id")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    manifest: bytes
    upload_id: str
    def __init__(self, manifest: _Optional[bytes] = ..., upload_id: _Optional[str] = ...) -> None: ...

class Manifests(_message.Message):
    __slots__ = ("manifests",)
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    manifests: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, manifests: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LostInput(_message.Message):
    __slots__ = ("node", "stage", "task", "cause")
    NODE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    node: str
    stage: int
    task: int
    cause: str
    def __init__(self, node: _Optional[str] = ..., stage: _Optional[int] = ..., task: _Optional[int] = ..., cause: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("table_scan", "file_scan", "select", "with_columns", "filter", "aggregate", "sort", "limit", "join", "concat", "sql", "values", "explode")
    TABLE_SCAN_FIELD_NUMBER: _ClassVar[int]
    FILE_SCAN_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    WITH_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    CONCAT_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    EXPLODE_FIELD_NUMBER: _ClassVar[int]
    table_scan: TableScan
    file_scan: FileScan
    select: Select
    with_columns: WithColumns
    filter: Filter
    aggregate: Aggregate
    sort: Sort
    limit: Limit
    join: Join
    concat: Concat
    sql: Sql
    values: Values
    explode: Explode
    def __init__(self, table_scan: _Optional[_Union[TableScan, _Mapping]] = ..., file_scan: _Optional[_Union[FileScan, _Mapping]] = ..., select: _Optional[_Union[Select, _Mapping]] = ..., with_columns: _Optional[_Union[WithColumns, _Mapping]] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., aggregate: _Optional[_Union[Aggregate, _Mapping]] = ..., sort: _Optional[_Union[Sort, _Mapping]] = ..., limit: _Optional[_Union[Limit, _Mapping]] = ..., join: _Optional[_Union[Join, _Mapping]] = ..., concat: _Optional[_Union[Concat, _Mapping]] = ..., sql: _Optional[_Union[Sql, _Mapping]] = ..., values: _Optional[_Union[Values, _Mapping]] = ..., explode: _Optional[_Union[Explode, _Mapping]] = ...) -> None: ...

class Explode(_message.Message):
    __slots__ = ("input", "columns", "empty_as_null", "drop_nulls")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EMPTY_AS_NULL_FIELD_NUMBER: _ClassVar[int]
    DROP_NULLS_FIELD_NUMBER: _ClassVar[int]
    input: Node
    columns: _containers.RepeatedScalarFieldContainer[str]
    empty_as_null: bool
    drop_nulls: bool
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., columns: _Optional[_Iterable[str]] = ..., empty_as_null: _Optional[bool] = ..., drop_nulls: _Optional[bool] = ...) -> None: ...

class Values(_message.Message):
    __slots__ = ("names", "rows")
    class Row(_message.Message):
        __slots__ = ("cells",)
        CELLS_FIELD_NUMBER: _ClassVar[int]
        cells: _containers.RepeatedCompositeFieldContainer[Expr]
        def __init__(self, cells: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[Values.Row]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[Values.Row, _Mapping]]] = ...) -> None: ...

class Sql(_message.Message):
    __slots__ = ("query", "tables")
    class TablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Node
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    query: str
    tables: _containers.MessageMap[str, Node]
    def __init__(self, query: _Optional[str] = ..., tables: _Optional[_Mapping[str, Node]] = ...) -> None: ...

class TableScan(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class FileScan(_message.Message):
    __slots__ = ("paths", "format", "csv")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    format: FileFormat
    csv: CsvOptions
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., format: _Optional[_Union[FileFormat, str]] = ..., csv: _Optional[_Union[CsvOptions, _Mapping]] = ...) -> None: ...

class CsvOptions(_message.Message):
    __slots__ = ("no_header", "delimiter")
    NO_HEADER_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    no_header: bool
    delimiter: str
    def __init__(self, no_header: _Optional[bool] = ..., delimiter: _Optional[str] = ...) -> None: ...

class Select(_message.Message):
    __slots__ = ("input", "exprs")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    EXPRS_FIELD_NUMBER: _ClassVar[int]
    input: Node
    exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class WithColumns(_message.Message):
    __slots__ = ("input", "exprs")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    EXPRS_FIELD_NUMBER: _ClassVar[int]
    input: Node
    exprs: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., exprs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("input", "predicate")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    input: Node
    predicate: Expr
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., predicate: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("input", "keys", "aggs")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    AGGS_FIELD_NUMBER: _ClassVar[int]
    input: Node
    keys: _containers.RepeatedCompositeFieldContainer[Expr]
    aggs: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., keys: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., aggs: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class SortKey(_message.Message):
    __slots__ = ("expr", "descending", "nulls_last")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    NULLS_LAST_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    descending: bool
    nulls_last: bool
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., descending: _Optional[bool] = ..., nulls_last: _Optional[bool] = ...) -> None: ...

class Sort(_message.Message):
    __slots__ = ("input", "keys")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    input: Node
    keys: _containers.RepeatedCompositeFieldContainer[SortKey]
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., keys: _Optional[_Iterable[_Union[SortKey, _Mapping]]] = ...) -> None: ...

class Limit(_message.Message):
    __slots__ = ("input", "offset", "count")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    input: Node
    offset: int
    count: int
    def __init__(self, input: _Optional[_Union[Node, _Mapping]] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class Join(_message.Message):
    __slots__ = ("left", "right", "left_on", "right_on", "how", "suffix", "filter")
    class How(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INNER: _ClassVar[Join.How]
        LEFT: _ClassVar[Join.How]
        RIGHT: _ClassVar[Join.How]
        FULL: _ClassVar[Join.How]
        SEMI: _ClassVar[Join.How]
        ANTI: _ClassVar[Join.How]
        CROSS: _ClassVar[Join.How]
    INNER: Join.How
    LEFT: Join.How
    RIGHT: Join.How
    FULL: Join.How
    SEMI: Join.How
    ANTI: Join.How
    CROSS: Join.How
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    LEFT_ON_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ON_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    left: Node
    right: Node
    left_on: _containers.RepeatedCompositeFieldContainer[Expr]
    right_on: _containers.RepeatedCompositeFieldContainer[Expr]
    how: Join.How
    suffix: str
    filter: Expr
    def __init__(self, left: _Optional[_Union[Node, _Mapping]] = ..., right: _Optional[_Union[Node, _Mapping]] = ..., left_on: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., right_on: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., how: _Optional[_Union[Join.How, str]] = ..., suffix: _Optional[str] = ..., filter: _Optional[_Union[Expr, _Mapping]] = ...) -> None: ...

class Concat(_message.Message):
    __slots__ = ("inputs",)
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[Node]
    def __init__(self, inputs: _Optional[_Iterable[_Union[Node, _Mapping]]] = ...) -> None: ...

class Expr(_message.Message):
    __slots__ = ("column", "literal", "call", "alias", "cast", "over", "selector", "rename")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    LITERAL_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    CAST_FIELD_NUMBER: _ClassVar[int]
    OVER_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    RENAME_FIELD_NUMBER: _ClassVar[int]
    column: Column
    literal: Literal
    call: Call
    alias: Alias
    cast: Cast
    over: Over
    selector: Selector
    rename: Rename
    def __init__(self, column: _Optional[_Union[Column, _Mapping]] = ..., literal: _Optional[_Union[Literal, _Mapping]] = ..., call: _Optional[_Union[Call, _Mapping]] = ..., alias: _Optional[_Union[Alias, _Mapping]] = ..., cast: _Optional[_Union[Cast, _Mapping]] = ..., over: _Optional[_Union[Over, _Mapping]] = ..., selector: _Optional[_Union[Selector, _Mapping]] = ..., rename: _Optional[_Union[Rename, _Mapping]] = ...) -> None: ...

class Selector(_message.Message):
    __slots__ = ("names", "patterns", "dtypes", "all", "exclude", "exclude_dtypes")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    DTYPES_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_DTYPES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    patterns: _containers.RepeatedScalarFieldContainer[str]
    dtypes: _containers.RepeatedCompositeFieldContainer[DataType]
    all: bool
    exclude: _containers.RepeatedScalarFieldContainer[str]
    exclude_dtypes: _containers.RepeatedCompositeFieldContainer[DataType]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., patterns: _Optional[_Iterable[str]] = ..., dtypes: _Optional[_Iterable[_Union[DataType, _Mapping]]] = ..., all: _Optional[bool] = ..., exclude: _Optional[_Iterable[str]] = ..., exclude_dtypes: _Optional[_Iterable[_Union[DataType, _Mapping]]] = ...) -> None: ...

class Rename(_message.Message):
    __slots__ = ("expr", "prefix", "suffix", "case")
    class Case(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KEEP: _ClassVar[Rename.Case]
        LOWER: _ClassVar[Rename.Case]
        UPPER: _ClassVar[Rename.Case]
    KEEP: Rename.Case
    LOWER: Rename.Case
    UPPER: Rename.Case
    EXPR_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    prefix: str
    suffix: str
    case: Rename.Case
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., prefix: _Optional[str] = ..., suffix: _Optional[str] = ..., case: _Optional[_Union[Rename.Case, str]] = ...) -> None: ...

class Over(_message.Message):
    __slots__ = ("expr", "partition_by", "order_by", "peers")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    PARTITION_BY_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    partition_by: _containers.RepeatedCompositeFieldContainer[Expr]
    order_by: _containers.RepeatedCompositeFieldContainer[SortKey]
    peers: bool
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., partition_by: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ..., order_by: _Optional[_Iterable[_Union[SortKey, _Mapping]]] = ..., peers: _Optional[bool] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("function", "args")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    function: str
    args: _containers.RepeatedCompositeFieldContainer[Expr]
    def __init__(self, function: _Optional[str] = ..., args: _Optional[_Iterable[_Union[Expr, _Mapping]]] = ...) -> None: ...

class Alias(_message.Message):
    __slots__ = ("expr", "name")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    name: str
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class Cast(_message.Message):
    __slots__ = ("expr", "to")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    expr: Expr
    to: DataType
    def __init__(self, expr: _Optional[_Union[Expr, _Mapping]] = ..., to: _Optional[_Union[DataType, _Mapping]] = ...) -> None: ...

class DataType(_message.Message):
    __slots__ = ("kind", "unit", "timezone", "precision", "scale")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNSPECIFIED: _ClassVar[DataType.Kind]
        BOOL: _ClassVar[DataType.Kind]
        INT8: _ClassVar[DataType.Kind]
        INT16: _ClassVar[DataType.Kind]
        INT32: _ClassVar[DataType.Kind]
        INT64: _ClassVar[DataType.Kind]
        UINT8: _ClassVar[DataType.Kind]
        UINT16: _ClassVar[DataType.Kind]
        UINT32: _ClassVar[DataType.Kind]
        UINT64: _ClassVar[DataType.Kind]
        FLOAT32: _ClassVar[DataType.Kind]
        FLOAT64: _ClassVar[DataType.Kind]
        UTF8: _ClassVar[DataType.Kind]
        LARGE_UTF8: _ClassVar[DataType.Kind]
        STRING_VIEW: _ClassVar[DataType.Kind]
        DATE32: _ClassVar[DataType.Kind]
        TIMESTAMP: _ClassVar[DataType.Kind]
        DECIMAL128: _ClassVar[DataType.Kind]
        DURATION: _ClassVar[DataType.Kind]
        TIME64: _ClassVar[DataType.Kind]
        BINARY: _ClassVar[DataType.Kind]
        LARGE_BINARY: _ClassVar[DataType.Kind]
    UNSPECIFIED: DataType.Kind
    BOOL: DataType.Kind
    INT8: DataType.Kind
    INT16: DataType.Kind
    INT32: DataType.Kind
    INT64: DataType.Kind
    UINT8: DataType.Kind
    UINT16: DataType.Kind
    UINT32: DataType.Kind
    UINT64: DataType.Kind
    FLOAT32: DataType.Kind
    FLOAT64: DataType.Kind
    UTF8: DataType.Kind
    LARGE_UTF8: DataType.Kind
    STRING_VIEW: DataType.Kind
    DATE32: DataType.Kind
    TIMESTAMP: DataType.Kind
    DECIMAL128: DataType.Kind
    DURATION: DataType.Kind
    TIME64: DataType.Kind
    BINARY: DataType.Kind
    LARGE_BINARY: DataType.Kind
    class TimeUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SECOND: _ClassVar[DataType.TimeUnit]
        MILLISECOND: _ClassVar[DataType.TimeUnit]
        MICROSECOND: _ClassVar[DataType.TimeUnit]
        NANOSECOND: _ClassVar[DataType.TimeUnit]
    SECOND: DataType.TimeUnit
    MILLISECOND: DataType.TimeUnit
    MICROSECOND: DataType.TimeUnit
    NANOSECOND: DataType.TimeUnit
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    kind: DataType.Kind
    unit: DataType.TimeUnit
    timezone: str
    precision: int
    scale: int
    def __init__(self, kind: _Optional[_Union[DataType.Kind, str]] = ..., unit: _Optional[_Union[DataType.TimeUnit, str]] = ..., timezone: _Optional[str] = ..., precision: _Optional[int] = ..., scale: _Optional[int] = ...) -> None: ...

class Literal(_message.Message):
    __slots__ = ("null", "bool_value", "int_value", "uint_value", "float_value", "string_value", "date_value", "timestamp_value", "decimal_value", "duration_value", "time_value", "binary_value")
    NULL_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    UINT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    DATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    DURATION_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIME_VALUE_FIELD_NUMBER: _ClassVar[int]
    BINARY_VALUE_FIELD_NUMBER: _ClassVar[int]
    null: DataType
    bool_value: bool
    int_value: int
    uint_value: int
    float_value: float
    string_value: str
    date_value: int
    timestamp_value: Timestamp
    decimal_value: Decimal
    duration_value: Duration
    time_value: int
    binary_value: bytes
    def __init__(self, null: _Optional[_Union[DataType, _Mapping]] = ..., bool_value: _Optional[bool] = ..., int_value: _Optional[int] = ..., uint_value: _Optional[int] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., date_value: _Optional[int] = ..., timestamp_value: _Optional[_Union[Timestamp, _Mapping]] = ..., decimal_value: _Optional[_Union[Decimal, _Mapping]] = ..., duration_value: _Optional[_Union[Duration, _Mapping]] = ..., time_value: _Optional[int] = ..., binary_value: _Optional[bytes] = ...) -> None: ...

class Duration(_message.Message):
    __slots__ = ("value", "unit")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    value: int
    unit: DataType.TimeUnit
    def __init__(self, value: _Optional[int] = ..., unit: _Optional[_Union[DataType.TimeUnit, str]] = ...) -> None: ...

class Timestamp(_message.Message):
    __slots__ = ("value", "unit", "timezone")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    value: int
    unit: DataType.TimeUnit
    timezone: str
    def __init__(self, value: _Optional[int] = ..., unit: _Optional[_Union[DataType.TimeUnit, str]] = ..., timezone: _Optional[str] = ...) -> None: ...

class Decimal(_message.Message):
    __slots__ = ("unscaled", "precision", "scale")
    UNSCALED_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    unscaled: str
    precision: int
    scale: int
    def __init__(self, unscaled: _Optional[str] = ..., precision: _Optional[int] = ..., scale: _Optional[int] = ...) -> None: ...
