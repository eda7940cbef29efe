//! Semantic-convention attribute names: well-known keys that backends understand.
//!
//! The stable names most used (HTTP, URL, server/client, network, database, RPC, messaging,
//! exceptions, errors, service, telemetry, code) are constants here, plus, in [`legacy`], the
//! older names that the Python guide uses (`http.method`, `http.url`).
//!
//! ```
//! use otlp_sdk::semconv;
//! assert_eq!(semconv::HTTP_REQUEST_METHOD, "http.request.method");
//! assert_eq!(semconv::legacy::HTTP_METHOD, "http.method");
//! ```

// HTTP
/// `http.request.method`
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.response.status_code`
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.route`
pub const HTTP_ROUTE: &str = "http.route";
/// `http.request.header`
pub const HTTP_REQUEST_HEADER: &str = "http.request.header";
/// `http.response.header`
pub const HTTP_RESPONSE_HEADER: &str = "http.response.header";
/// `http.request.resend_count`
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// `http.request.body.size`
pub const HTTP_REQUEST_BODY_SIZE: &str = "http.request.body.size";
/// `http.response.body.size`
pub const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";

// URL
/// `url.full`
pub const URL_FULL: &str = "url.full";
/// `url.path`
pub const URL_PATH: &str = "url.path";
/// `url.query`
pub const URL_QUERY: &str = "url.query";
/// `url.scheme`
pub const URL_SCHEME: &str = "url.scheme";
/// `url.fragment`
pub const URL_FRAGMENT: &str = "url.fragment";
/// `url.template`
pub const URL_TEMPLATE: &str = "url.template";

// Server and client
/// `server.address`
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`
pub const SERVER_PORT: &str = "server.port";
/// `client.address`
pub const CLIENT_ADDRESS: &str = "client.address";
/// `client.port`
pub const CLIENT_PORT: &str = "client.port";

// Network
/// `network.protocol.name`
pub const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
/// `network.protocol.version`
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `network.transport`
pub const NETWORK_TRANSPORT: &str = "network.transport";
/// `network.type`
pub const NETWORK_TYPE: &str = "network.type";
/// `network.peer.address`
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// `network.peer.port`
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
/// `network.local.address`
pub const NETWORK_LOCAL_ADDRESS: &str = "network.local.address";
/// `network.local.port`
pub const NETWORK_LOCAL_PORT: &str = "network.local.port";

// User agent
/// `user_agent.original`
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";

// Database
/// `db.system.name`
pub const DB_SYSTEM_NAME: &str = "db.system.name";
/// `db.namespace`
pub const DB_NAMESPACE: &str = "db.namespace";
/// `db.operation.name`
pub const DB_OPERATION_NAME: &str = "db.operation.name";
/// `db.query.text`
pub const DB_QUERY_TEXT: &str = "db.query.text";
/// `db.collection.name`
pub const DB_COLLECTION_NAME: &str = "db.collection.name";
/// `db.response.status_code`
pub const DB_RESPONSE_STATUS_CODE: &str = "db.response.status_code";
/// `db.operation.batch.size`
pub const DB_OPERATION_BATCH_SIZE: &str = "db.operation.batch.size";
/// `db.query.summary`
pub const DB_QUERY_SUMMARY: &str = "db.query.summary";

// RPC
/// `rpc.system`
pub const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service`
pub const RPC_SERVICE: &str = "rpc.service";
/// `rpc.method`
pub const RPC_METHOD: &str = "rpc.method";
/// `rpc.grpc.status_code`
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";

// Messaging
/// `messaging.system`
pub const MESSAGING_SYSTEM: &str = "messaging.system";
/// `messaging.operation.name`
pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
/// `messaging.operation.type`
pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
/// `messaging.destination.name`
pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
/// `messaging.message.id`
pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";
/// `messaging.batch.message_count`
pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";
/// `messaging.consumer.group.name`
pub const MESSAGING_CONSUMER_GROUP_NAME: &str = "messaging.consumer.group.name";

// Exceptions
/// `exception.type`
pub const EXCEPTION_TYPE: &str = "exception.type";
/// `exception.message`
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// `exception.stacktrace`
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
/// `exception.escaped`
pub const EXCEPTION_ESCAPED: &str = "exception.escaped";

// Errors
/// `error.type`
pub const ERROR_TYPE: &str = "error.type";

// Service
/// `service.name`
pub const SERVICE_NAME: &str = "service.name";
/// `service.version`
pub const SERVICE_VERSION: &str = "service.version";
/// `service.namespace`
pub const SERVICE_NAMESPACE: &str = "service.namespace";
/// `service.instance.id`
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";

// Telemetry SDK
/// `telemetry.sdk.name`
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
/// `telemetry.sdk.language`
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
/// `telemetry.sdk.version`
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";

// Code
/// `code.function.name`
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// `code.file.path`
pub const CODE_FILE_PATH: &str = "code.file.path";
/// `code.line.number`
pub const CODE_LINE_NUMBER: &str = "code.line.number";
/// `code.column.number`
pub const CODE_COLUMN_NUMBER: &str = "code.column.number";
/// `code.stacktrace`
pub const CODE_STACKTRACE: &str = "code.stacktrace";

// OpenTelemetry
/// `otel.scope.name`
pub const OTEL_SCOPE_NAME: &str = "otel.scope.name";
/// `otel.scope.version`
pub const OTEL_SCOPE_VERSION: &str = "otel.scope.version";
/// `otel.status_code`
pub const OTEL_STATUS_CODE: &str = "otel.status_code";
/// `otel.status_description`
pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";

/// Older attribute names, superseded in the current conventions but still used by the Python
/// guide and by many backends' dashboards.
pub mod legacy {
    /// `http.method` (older name)
    pub const HTTP_METHOD: &str = "http.method";
    /// `http.url` (older name)
    pub const HTTP_URL: &str = "http.url";
    /// `http.status_code` (older name)
    pub const HTTP_STATUS_CODE: &str = "http.status_code";
    /// `http.target` (older name)
    pub const HTTP_TARGET: &str = "http.target";
    /// `http.scheme` (older name)
    pub const HTTP_SCHEME: &str = "http.scheme";
    /// `http.host` (older name)
    pub const HTTP_HOST: &str = "http.host";
    /// `net.peer.name` (older name)
    pub const NET_PEER_NAME: &str = "net.peer.name";
    /// `net.peer.port` (older name)
    pub const NET_PEER_PORT: &str = "net.peer.port";
    /// `code.function` (older name)
    pub const CODE_FUNCTION: &str = "code.function";
    /// `code.filepath` (older name)
    pub const CODE_FILEPATH: &str = "code.filepath";
    /// `code.lineno` (older name)
    pub const CODE_LINENO: &str = "code.lineno";
    /// `code.namespace` (older name)
    pub const CODE_NAMESPACE: &str = "code.namespace";
}

/// The older names the guide imports as `SpanAttributes.HTTP_METHOD` / `HTTP_URL`.
pub use legacy::{HTTP_METHOD, HTTP_URL};
