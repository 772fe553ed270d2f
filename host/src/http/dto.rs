//! The API's wire types (request and response bodies).
//!
//! Every type here derives `utoipa::ToSchema`, so the OpenAPI document is
//! generated from the same structs that serialise the responses and cannot
//! drift from them. They convert from the broker's and the registry's types
//! instead of reusing them, which keeps utoipa out of the lower layers and
//! lets those types change without silently changing the API.

mod browse;
mod costs;
mod enqueue;
mod flows;
mod limits;
mod queues;
mod schedules;
mod system;
mod tasks;

pub use browse::{TaskActionRequest, TaskActionResponse, TaskPageResponse, TasksQuery};
pub use costs::{CostsQuery, CostsResponse, TaskTypeCostDto};
pub use enqueue::{BatchResponse, EnqueueRequest, EnqueueResponse, UniqueRequest};
pub use flows::{FlowDto, FlowRequest, FlowResponse};
pub use limits::{LimitsRequest, LimitsResponse};
pub use queues::{
    CountersDto, DeadActionRequest, DeadListResponse, DeadQuery, DeadTaskDto, PauseResponse,
    PurgeResponse, QueueDto, QueueSizes, QueuesResponse, RemoveQueueResponse, RequeueResponse,
};
pub use schedules::{ScheduleChanged, ScheduleDto, ScheduleRequest, SchedulesResponse};
pub use system::{
    CheckDto, HealthResponse, HostDto, HostsResponse, InfoResponse, PluginDto, PluginsResponse,
    ReadyResponse, StatsResponse, ThroughputPointDto, ThroughputQuery, ThroughputResponse,
};
pub use tasks::{CancelResponse, TaskResultDto, TaskRunsDto, TaskStatusDto, outcome_name};
