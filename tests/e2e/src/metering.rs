//! What the code asks of DynamoDB, counted by an SDK interceptor: requests by kind (a test can assert
//! no Scan was made) and the capacity units the table reports.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use sellerbridge_core::store::DynamoStore;

/// DynamoDB request units as the table reports them (every request asks for its consumed capacity)
/// and the number of SQS requests, whoever sends them.
#[derive(Debug, Default)]
pub struct Usage {
    /// Requests by kind (`Scan`, `Query`, `GetItem`, `Write`).
    pub operations: Mutex<BTreeMap<&'static str, u64>>,
    pub read_units: Mutex<f64>,
    pub write_units: Mutex<f64>,
    /// Writes whose condition failed: they return no consumed capacity, but AWS bills them.
    pub failed_writes: AtomicU64,
    pub sqs_requests: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct MeterDynamo(pub Arc<Usage>);

impl Usage {
    pub fn requests(&self, kind: &str) -> u64 {
        self.operations.lock().unwrap().get(kind).copied().unwrap_or(0)
    }
}

impl Intercept for MeterDynamo {
    fn name(&self) -> &'static str {
        "MeterDynamo"
    }

    fn modify_before_serialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as op;
        use aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total;
        let input = context.input_mut();
        let kind = if let Some(i) = input.downcast_mut::<op::get_item::GetItemInput>() {
            i.return_consumed_capacity = Some(Total);
            "GetItem"
        } else if let Some(i) = input.downcast_mut::<op::query::QueryInput>() {
            i.return_consumed_capacity = Some(Total);
            "Query"
        } else if let Some(i) = input.downcast_mut::<op::scan::ScanInput>() {
            i.return_consumed_capacity = Some(Total);
            "Scan"
        } else {
            if let Some(i) = input.downcast_mut::<op::put_item::PutItemInput>() {
                i.return_consumed_capacity = Some(Total);
            } else if let Some(i) = input.downcast_mut::<op::update_item::UpdateItemInput>() {
                i.return_consumed_capacity = Some(Total);
            } else if let Some(i) = input.downcast_mut::<op::delete_item::DeleteItemInput>() {
                i.return_consumed_capacity = Some(Total);
            } else if let Some(i) = input.downcast_mut::<op::transact_write_items::TransactWriteItemsInput>() {
                i.return_consumed_capacity = Some(Total);
            }
            "Write"
        };
        *self.0.operations.lock().unwrap().entry(kind).or_default() += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as op;
        let Ok(output) = context.output_or_error() else {
            // A failed condition or transaction: billed as one write unit.
            self.0.failed_writes.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let units =
            |c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>| c.and_then(|c| c.capacity_units()).unwrap_or(0.0);
        let (read, write) = if let Some(o) = output.downcast_ref::<op::get_item::GetItemOutput>() {
            (units(o.consumed_capacity()), 0.0)
        } else if let Some(o) = output.downcast_ref::<op::query::QueryOutput>() {
            (units(o.consumed_capacity()), 0.0)
        } else if let Some(o) = output.downcast_ref::<op::scan::ScanOutput>() {
            (units(o.consumed_capacity()), 0.0)
        } else if let Some(o) = output.downcast_ref::<op::put_item::PutItemOutput>() {
            (0.0, units(o.consumed_capacity()))
        } else if let Some(o) = output.downcast_ref::<op::update_item::UpdateItemOutput>() {
            (0.0, units(o.consumed_capacity()))
        } else if let Some(o) = output.downcast_ref::<op::delete_item::DeleteItemOutput>() {
            (0.0, units(o.consumed_capacity()))
        } else if let Some(o) = output.downcast_ref::<op::transact_write_items::TransactWriteItemsOutput>() {
            (0.0, o.consumed_capacity().iter().map(|c| units(Some(c))).sum())
        } else {
            (0.0, 0.0)
        };
        *self.0.read_units.lock().unwrap() += read;
        *self.0.write_units.lock().unwrap() += write;
        Ok(())
    }
}

/// The same table through a client that counts every request into the returned usage.
pub fn metered(store: &DynamoStore) -> (DynamoStore, Arc<Usage>) {
    let usage = Arc::new(Usage::default());
    let config = store.client().config().to_builder().interceptor(MeterDynamo(usage.clone())).build();
    (DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), store.table()), usage)
}
