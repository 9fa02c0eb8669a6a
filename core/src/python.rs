//! The PyO3 bindings: the private module `kimia._core`, re-exported by `kimia/__init__.py`.
//!
//! Plain Python data (dicts, lists, ints) crosses the boundary through serde: in by `pyde`, out by
//! pythonize. Rejections become `kimia.errors.RuleError` / `kimia.errors.Rejected` with a stable
//! code. Long calls (compiling rules, backtests, tier close) release the GIL; short ones do not.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::account::AccountKey;
use crate::backtest::BatchInput;
use crate::errors::{self, CoreError, Lang};
use crate::explain::{gave, render};
use crate::model::{Decision, MemberSnapshot, Purchase};
use crate::rules::compile::Rulebook as CoreRulebook;
use crate::rules::spec::RuleSet;
use crate::tiers::{self, TierConfig, TierInput};
use crate::value::{self, ChargeSource, ConversionConfig, VoucherPrice};
use crate::receipt::{holder_balances, Receipt};
use crate::rows::{self, RowsItem};
use crate::{calendar, ledger, money};

/// Raise `kimia.errors.<class_name>` carrying the code, both messages, the path and the params.
fn raise(py: Python<'_>, class_name: &str, e: &CoreError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = py.import("kimia.errors")?.getattr(class_name)?;
        let params = PyDict::new(py);
        for (name, value) in &e.params {
            params.set_item(*name, value)?;
        }
        let instance = class.call1((e.code, e.message(Lang::En), e.message(Lang::Fa), e.path.clone(), params))?;
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|err| err)
}

fn rejected(py: Python<'_>, e: &CoreError) -> PyErr {
    raise(py, "Rejected", e)
}

/// Python data → a serde type; a shape error names the deepest field path, in both languages.
fn from_py<T: DeserializeOwned>(py: Python<'_>, obj: &Bound<'_, PyAny>, class_name: &str, code: &'static str) -> PyResult<T> {
    let mut de = crate::pyde::PyDe::new(obj);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let (en, fa) = crate::shape::describe(&e.into_inner().to_string());
        let plain = CoreError::new(code).with_text("detail", en, fa).at(path);
        // Only on an error: the data as a JSON value, to find the deepest path.
        let err = match py_to_value(obj) {
            Some(doc) => crate::shape::shape_error::<T>(&doc, code, plain),
            None => plain,
        };
        raise(py, class_name, &err)
    })
}

/// Plain Python data as a JSON value (dict keys as text), or `None` for anything else.
fn py_to_value(obj: &Bound<'_, PyAny>) -> Option<serde_json::Value> {
    use serde_json::Value;
    if obj.is_none() {
        return Some(Value::Null);
    }
    if obj.is_exact_instance_of::<PyBool>() {
        return obj.is_truthy().ok().map(Value::Bool);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str().ok().map(|s| Value::String(s.to_owned()));
    }
    if obj.is_instance_of::<PyInt>() {
        return match obj.extract::<i64>() {
            Ok(v) => Some(Value::from(v)),
            Err(_) => obj.extract::<u64>().ok().map(Value::from),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value()).map(Value::Number);
    }
    if let Ok(d) = obj.cast::<PyMapping>() {
        let mut map = serde_json::Map::new();
        for item in d.items().ok()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().ok()?;
            map.insert(k.str().ok()?.to_str().ok()?.to_owned(), py_to_value(&v)?);
        }
        return Some(Value::Object(map));
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        return obj.try_iter().ok()?.map(|item| item.ok().and_then(|i| py_to_value(&i))).collect::<Option<Vec<_>>>().map(Value::Array);
    }
    None
}

fn to_py<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn member_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Arc<MemberSnapshot>> {
    if let Ok(m) = obj.cast::<Member>() {
        return Ok(m.get().inner.clone());
    }
    Ok(Arc::new(from_py(py, obj, "Rejected", "invalid_input")?))
}

/// A member snapshot: balances, lots, history and groups, as the core sees them.
#[pyclass(frozen, module = "kimia._core")]
pub struct Member {
    inner: Arc<MemberSnapshot>,
}

#[pymethods]
impl Member {
    #[new]
    fn new(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Member { inner: Arc::new(from_py(py, data, "Rejected", "invalid_input")?) })
    }

    #[getter]
    fn member_id(&self) -> i64 {
        self.inner.member_id
    }

    /// Balance of one account, by its text name (e.g. "member:42/points").
    fn balance(&self, py: Python<'_>, account: &str) -> PyResult<i64> {
        let key: AccountKey = account.parse().map_err(|_| rejected(py, &CoreError::new("unknown_account").with("account", account)))?;
        Ok(self.inner.balance(&key))
    }

    #[getter]
    fn points(&self) -> i64 {
        self.inner.points()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &*self.inner)
    }

    /// The rial credit held in lots, own and shared wallet's, wherever it may be spent (a receipt's
    /// `balance_credit_rial`; a credit line is a limit, not credit held).
    #[getter]
    fn credit_held_rial(&self) -> i64 {
        self.inner.credit_held()
    }

    /// The same snapshot with facts a purchase loads on demand replaced: the purchases at this
    /// merchant, the use of budgets and the voucher presented (cheaper than a dict round trip).
    #[pyo3(signature = (*, merchant_purchase_count = None, budget_used = None, vouchers = None))]
    fn with_facts(
        &self,
        py: Python<'_>,
        merchant_purchase_count: Option<i64>,
        budget_used: Option<std::collections::BTreeMap<String, i64>>,
        vouchers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Member> {
        let mut snapshot = (*self.inner).clone();
        if let Some(count) = merchant_purchase_count {
            snapshot.merchant_purchase_count = count;
        }
        if let Some(used) = budget_used {
            snapshot.budget_used = used;
        }
        if let Some(list) = vouchers {
            snapshot.vouchers = from_py(py, list, "Rejected", "invalid_input")?;
        }
        Ok(Member { inner: Arc::new(snapshot) })
    }

    fn __repr__(&self) -> String {
        format!("Member(member_id={}, points={}, lots={})", self.inner.member_id, self.inner.points(), self.inner.lots.len())
    }
}

/// The outcome of one operation: discount, postings, lots, split, entries and the explanation.
#[pyclass(frozen, name = "Decision", module = "kimia._core")]
pub struct DecisionObj {
    inner: Arc<Decision>,
}

fn decision(d: Decision) -> DecisionObj {
    DecisionObj { inner: Arc::new(d) }
}

#[pymethods]
impl DecisionObj {
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.kind)
    }
    #[getter]
    fn op_id(&self) -> i64 {
        self.inner.op_id
    }
    #[getter]
    fn member_id(&self) -> i64 {
        self.inner.member_id
    }
    #[getter]
    fn merchant_id(&self) -> Option<i64> {
        self.inner.merchant_id
    }
    #[getter]
    fn now(&self) -> i64 {
        self.inner.now
    }
    #[getter]
    fn amount_rial(&self) -> i64 {
        self.inner.amount_rial
    }
    #[getter]
    fn discount_rial(&self) -> i64 {
        self.inner.discount_rial
    }
    #[getter]
    fn credit_used_rial(&self) -> i64 {
        self.inner.credit_used_rial
    }
    /// Points the member paid with (negative in a refund or reversal: given back).
    #[getter]
    fn points_redeemed(&self) -> i64 {
        self.inner.points_redeemed
    }
    /// The rial value of `points_redeemed`.
    #[getter]
    fn points_redeemed_rial(&self) -> i64 {
        self.inner.points_redeemed_rial
    }
    #[getter]
    fn payable_rial(&self) -> i64 {
        self.inner.payable_rial
    }
    #[getter]
    fn points_earned(&self) -> i64 {
        self.inner.points_earned
    }
    #[getter]
    fn applied_rules(&self) -> Vec<String> {
        self.inner.applied_rules.iter().map(|r| r.to_string()).collect()
    }
    #[getter]
    fn voucher_used(&self) -> Option<String> {
        self.inner.voucher_used.clone()
    }
    #[getter]
    fn voucher_restored(&self) -> Option<String> {
        self.inner.voucher_restored.clone()
    }
    #[getter]
    fn postings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.postings)
    }
    #[getter]
    fn lots_created<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.lots_created)
    }
    #[getter]
    fn lots_consumed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.lots_consumed)
    }
    #[getter]
    fn split<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.split)
    }
    #[getter]
    fn lottery_entries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.lottery_entries)
    }
    #[getter]
    fn vouchers_issued<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.vouchers_issued)
    }
    #[getter]
    fn budget_use<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.budget_use)
    }
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.counters)
    }
    /// Net change per account, keyed by account name.
    #[getter]
    fn deltas(&self) -> Vec<(String, i64)> {
        self.inner.deltas().into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The explanation lines, each with `code`, `rule_id`, `message_en` and `message_fa`.
    #[getter]
    fn explanation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for e in &self.inner.explanation {
            let item = to_py(py, e)?;
            let item = item.cast::<PyDict>()?;
            item.set_item("message_en", render(e, Lang::En))?;
            item.set_item("message_fa", render(e, Lang::Fa))?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// The explanation as sentences in one language ("fa" or "en"); `applied_only` keeps the lines
    /// of rules that gave something (what a receipt prints).
    #[pyo3(signature = (lang = "fa", *, applied_only = false))]
    fn explain(&self, lang: &str, applied_only: bool) -> Vec<String> {
        let lang = if lang == "en" { Lang::En } else { Lang::Fa };
        self.inner.explanation.iter().filter(|e| !applied_only || gave(e)).map(|e| render(e, lang)).collect()
    }

    fn is_balanced(&self) -> bool {
        self.inner.is_balanced()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &*self.inner)
    }

    /// The receipt (see `receipt.rs`) as a dict and as its JSON text. `member` is the member as the
    /// decision found them (a `Member` or its data); the receipt shows their balances after it.
    /// `extra` (key, text) pairs follow in order.
    #[pyo3(signature = (op_id, member, status = "done", extra = Vec::new()))]
    fn receipt<'py>(
        &self,
        py: Python<'py>,
        op_id: i64,
        member: &Bound<'py, PyAny>,
        status: &str,
        extra: Vec<(String, String)>,
    ) -> PyResult<(Bound<'py, PyAny>, String)> {
        let (points, credit) = holder_balances(&*member_of(py, member)?, &self.inner);
        let receipt = Receipt::new(&self.inner, op_id, status, points, credit, &extra);
        let text = serde_json::to_string(&receipt).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((to_py(py, &receipt)?, text))
    }

    /// JSON text of the whole decision (what the service stores, to reverse it later).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<DecisionObj> {
        let d: Decision = serde_json::from_str(text)
            .map_err(|e| {
                let (en, fa) = crate::shape::describe(&e.to_string());
                rejected(py, &CoreError::new("invalid_input").with_text("detail", en, fa))
            })?;
        if !d.is_balanced() {
            return Err(rejected(py, &CoreError::new("decision_unbalanced")));
        }
        Ok(decision(d))
    }

    fn __repr__(&self) -> String {
        let d = &self.inner;
        format!(
            "Decision(kind={:?}, op_id={}, amount_rial={}, discount_rial={}, credit_used_rial={}, payable_rial={}, points_earned={}, rules={:?})",
            d.kind, d.op_id, d.amount_rial, d.discount_rial, d.credit_used_rial, d.payable_rial, d.points_earned, d.applied_rules
        )
    }
}

/// A club's rule set compiled once into a frozen, thread-safe object.
#[pyclass(frozen, module = "kimia._core")]
pub struct Rulebook {
    inner: Arc<CoreRulebook>,
}

#[pymethods]
impl Rulebook {
    /// Compile a rule set given as a dict (or JSON text). Raises `RuleError` with a code and path.
    #[new]
    fn new(py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<Self> {
        let compiled = if let Ok(text) = rules.cast::<PyString>() {
            let text = text.to_str()?.to_owned();
            py.detach(|| CoreRulebook::from_json(&text))
        } else {
            let set: RuleSet = from_py(py, rules, "RuleError", "rule_invalid_json")?;
            py.detach(|| CoreRulebook::compile(&set))
        };
        compiled.map(|r| Rulebook { inner: Arc::new(r) }).map_err(|e| raise(py, "RuleError", &e))
    }

    #[getter]
    fn club_id(&self) -> i64 {
        self.inner.club_id
    }

    #[getter]
    fn version(&self) -> i64 {
        self.inner.version
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The merchant sets (ids) a merchant belongs to: where club credit of those sets is spendable.
    fn merchant_sets_for(&self, merchant_id: i64, merchant_groups: Vec<i64>) -> Vec<i64> {
        self.inner.merchant_sets_for(merchant_id, &merchant_groups)
    }

    /// The rial credit `member` can spend at this merchant at `now`: lots valid there (own and
    /// shared wallet's), and what credit lines may still lend (a balance inquiry's answer).
    #[pyo3(signature = (member, *, merchant_id, merchant_groups, now))]
    fn spendable_credit(&self, py: Python<'_>, member: &Bound<'_, PyAny>, merchant_id: i64, merchant_groups: Vec<i64>, now: i64) -> PyResult<i64> {
        let m = member_of(py, member)?;
        Ok(self.inner.spendable_credit(&m, merchant_id, &merchant_groups, now))
    }

    /// Whether any rule has a budget (if none, budget use need not be loaded).
    #[getter]
    fn has_budgets(&self) -> bool {
        self.inner.has_budgets()
    }

    /// Decide a purchase for a member at instant `now` (Unix seconds).
    #[pyo3(signature = (purchase, member, now, *, explain = true))]
    fn evaluate(&self, py: Python<'_>, purchase: &Bound<'_, PyAny>, member: &Bound<'_, PyAny>, now: i64, explain: bool) -> PyResult<DecisionObj> {
        let p: Purchase = from_py(py, purchase, "Rejected", "invalid_input")?;
        let m = member_of(py, member)?;
        let book = &self.inner;
        // A single evaluation takes microseconds: releasing the GIL for it would cost more than it
        // saves (under load every release hands the GIL to another thread). Batches release it.
        book.evaluate(&p, &m, now, explain).map(decision).map_err(|e| rejected(py, &e))
    }

    /// The budget keys this purchase may use; load their use into the member's `budget_used`.
    fn budget_keys(&self, py: Python<'_>, purchase: &Bound<'_, PyAny>, member_id: i64, now: i64) -> PyResult<Vec<String>> {
        let p: Purchase = from_py(py, purchase, "Rejected", "invalid_input")?;
        Ok(self.inner.budget_keys(&p, member_id, now))
    }

    /// Evaluate many purchases (columns of equal length) and return the totals.
    #[pyo3(signature = (*, merchant_id, amount_rial, at, merchant_group = None, tier = None, tier_names = None, purchase_count = None))]
    #[allow(clippy::too_many_arguments)]
    fn backtest<'py>(
        &self,
        py: Python<'py>,
        merchant_id: Vec<i64>,
        amount_rial: Vec<i64>,
        at: Vec<i64>,
        merchant_group: Option<Vec<i64>>,
        tier: Option<Vec<i32>>,
        tier_names: Option<Vec<String>>,
        purchase_count: Option<Vec<i64>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = merchant_id.len();
        let merchant_group = merchant_group.unwrap_or_else(|| vec![-1; n]);
        let tier = tier.unwrap_or_else(|| vec![-1; n]);
        let tier_names = tier_names.unwrap_or_default();
        let purchase_count = purchase_count.unwrap_or_else(|| vec![0; n]);
        let input = BatchInput {
            merchant_id: &merchant_id,
            merchant_group: &merchant_group,
            amount_rial: &amount_rial,
            at: &at,
            tier: &tier,
            tier_names: &tier_names,
            purchase_count: &purchase_count,
        };
        let book = &self.inner;
        let totals = py.detach(|| book.backtest(&input)).map_err(|e| rejected(py, &e))?;
        to_py(py, &totals)
    }

    fn __repr__(&self) -> String {
        format!("Rulebook(club_id={}, version={}, rules={})", self.inner.club_id, self.inner.version, self.inner.len())
    }
}

/// What the core knows of an account from its name: whose it is, what it counts, its floor.
#[pyclass(frozen, module = "kimia._core")]
pub struct AccountInfo {
    key: AccountKey,
}

#[pymethods]
impl AccountInfo {
    /// The account's name, e.g. `member:42/merchant_credit@merchant:7`.
    #[getter]
    fn account(&self) -> String {
        self.key.to_string()
    }
    /// `member:42`: the `owner` column of balances and lots.
    #[getter]
    fn owner(&self) -> String {
        self.key.owner.to_string()
    }
    /// `member`, `group`, `merchant`, `club`, `marketer`, `org` or `platform`.
    #[getter]
    fn owner_type(&self) -> &'static str {
        self.key.owner.type_name()
    }
    #[getter]
    fn owner_id(&self) -> i64 {
        self.key.owner.id()
    }
    /// `points`, `merchant_credit`, `credit_line`, `expense`, ...
    #[getter]
    fn kind(&self) -> &'static str {
        self.key.kind.name()
    }
    /// `rial`, `point` or `entry`.
    #[getter]
    fn unit(&self) -> &'static str {
        rows::unit_name(self.key.unit())
    }
    /// `merchant:7`, `set:2`, `lottery:9`, `hold:77`, or `None`.
    #[getter]
    fn scope(&self) -> Option<String> {
        self.key.scope.text()
    }
    /// A member's or a shared wallet's account (its value lives in the member's club).
    #[getter]
    fn is_holder(&self) -> bool {
        self.key.is_holder()
    }
    /// Value kept in lots with their own expiry (the lots' sum is the balance).
    #[getter]
    fn has_lots(&self) -> bool {
        self.key.kind.has_lots()
    }
    /// Rial credit a holder may pay with at a purchase (scope permitting), a credit line included.
    #[getter]
    fn is_spendable_credit(&self) -> bool {
        self.key.kind.is_spendable_credit()
    }
    /// Rial credit held in lots (a receipt's credit balance counts it; a credit line is not).
    #[getter]
    fn is_credit_held(&self) -> bool {
        self.key.kind.is_credit_held()
    }
    /// The lowest balance the account may reach given its credit limit, or `None` if unbounded.
    fn floor(&self, credit_limit: i64) -> Option<i64> {
        self.key.floor(credit_limit)
    }
    fn __repr__(&self) -> String {
        format!("AccountInfo({:?})", self.key.to_string())
    }
}

/// What the core knows of the account named `account`; `Rejected` (unknown_account) if it names none.
#[pyfunction]
fn account_info(py: Python<'_>, account: &str) -> PyResult<AccountInfo> {
    Ok(AccountInfo { key: account_of(py, account)? })
}

/// The lowest balance `account` may reach given its credit limit (`AccountKey::floor`), or `None`.
#[pyfunction]
fn floor(py: Python<'_>, account: &str, credit_limit: i64) -> PyResult<Option<i64>> {
    Ok(account_of(py, account)?.floor(credit_limit))
}

/// The kind of each named account (`points`, `merchant_credit`, ...), in one call for a whole
/// batch of rows; `Rejected` (unknown_account) if one names no account.
#[pyfunction]
fn kinds_of(py: Python<'_>, accounts: Vec<String>) -> PyResult<Vec<&'static str>> {
    accounts.iter().map(|a| account_of(py, a).map(|key| key.kind.name())).collect()
}

/// The lot kinds a purchase draws when it pays with credit and/or points (never lottery entries).
#[pyfunction]
#[pyo3(signature = (*, credit, points))]
fn spent_lot_kinds(py: Python<'_>, credit: bool, points: bool) -> PyResult<Bound<'_, PyFrozenSet>> {
    let kinds = crate::account::Kind::ALL.iter().filter(|k| (credit && k.is_credit_held()) || (points && **k == crate::account::Kind::Points));
    PyFrozenSet::new(py, kinds.map(|k| k.name()))
}

/// The rows a group of purchase decisions writes, one list per table (see `crate::rows`).
/// `items` holds `(decision, operation's club, member's club)`.
#[pyfunction]
fn batch_rows<'py>(py: Python<'py>, items: Vec<(Bound<'py, DecisionObj>, i64, i64)>, now: i64) -> PyResult<Bound<'py, PyDict>> {
    let decisions: Vec<Arc<Decision>> = items.iter().map(|(d, _, _)| d.get().inner.clone()).collect();
    let rows_items: Vec<RowsItem<'_>> = decisions
        .iter()
        .zip(&items)
        .map(|(d, (_, op_club, member_club))| RowsItem { decision: d, op_club: *op_club, member_club: *member_club })
        .collect();
    let r = rows::batch_rows(&rows_items, now);
    let out = PyDict::new(py);
    let legs: Vec<_> = r.legs.iter().map(|(c, op, seq, a, amount, unit, memo, at)| (*c, *op, *seq, a.as_str(), *amount, *unit, &**memo, *at)).collect();
    out.set_item("legs", legs)?;
    out.set_item("balances", r.balances)?;
    out.set_item("lots_created", r.lots_created)?;
    out.set_item("lots_consumed", r.lots_consumed)?;
    out.set_item("splits", r.splits)?;
    out.set_item("budgets", r.budgets)?;
    out.set_item("counters", r.counters)?;
    out.set_item("days", r.days)?;
    out.set_item("visits", r.visits)?;
    Ok(out)
}

/// Apply a decision to a member snapshot: the new snapshot, or `Rejected` and no change.
#[pyfunction]
fn apply(py: Python<'_>, member: &Bound<'_, PyAny>, decision: &Bound<'_, DecisionObj>) -> PyResult<Member> {
    let m = member_of(py, member)?;
    let d = decision.get().inner.clone();
    ledger::apply(&m, &d).map(|s| Member { inner: Arc::new(s) }).map_err(|e| rejected(py, &e))
}

/// The compensating decision of a refund (`refund_rial`) or a full reversal (`refund_rial=None`).
#[pyfunction]
#[pyo3(signature = (original, member, *, op_id, now, refund_rial = None, refunded_before_rial = 0))]
fn reverse(
    py: Python<'_>,
    original: &Bound<'_, DecisionObj>,
    member: &Bound<'_, PyAny>,
    op_id: i64,
    now: i64,
    refund_rial: Option<i64>,
    refunded_before_rial: i64,
) -> PyResult<DecisionObj> {
    let m = member_of(py, member)?;
    ledger::reverse(&original.get().inner, &m, op_id, now, refund_rial, refunded_before_rial).map(decision).map_err(|e| rejected(py, &e))
}

/// The exact inverse of a whole decision (e.g. a terminal's reversal of a refund).
#[pyfunction]
#[pyo3(signature = (original, member, *, op_id, now))]
fn invert(py: Python<'_>, original: &Bound<'_, DecisionObj>, member: &Bound<'_, PyAny>, op_id: i64, now: i64) -> PyResult<DecisionObj> {
    let m = member_of(py, member)?;
    ledger::invert(&original.get().inner, &m, op_id, now).map(decision).map_err(|e| rejected(py, &e))
}

/// A hold of the credit a purchase would spend (before the bank sale).
#[pyfunction]
fn hold(purchase: &Bound<'_, DecisionObj>) -> DecisionObj {
    decision(ledger::hold(&purchase.get().inner))
}

/// The completion of a hold: the rest of the purchase, under operation `op_id`.
#[pyfunction]
#[pyo3(signature = (purchase, *, op_id, now))]
fn complete_hold(purchase: &Bound<'_, DecisionObj>, op_id: i64, now: i64) -> DecisionObj {
    decision(ledger::complete_hold(&purchase.get().inner, op_id, now))
}

/// The cancellation of a hold: the held credit goes back as lots with the original expiries.
#[pyfunction]
#[pyo3(signature = (hold_decision, *, op_id, now))]
fn cancel_hold(hold_decision: &Bound<'_, DecisionObj>, op_id: i64, now: i64) -> DecisionObj {
    decision(ledger::cancel_hold(&hold_decision.get().inner, op_id, now))
}

#[pyfunction]
#[pyo3(signature = (config, member, *, op_id, now, points))]
fn convert_points(py: Python<'_>, config: &Bound<'_, PyAny>, member: &Bound<'_, PyAny>, op_id: i64, now: i64, points: i64) -> PyResult<DecisionObj> {
    let c: ConversionConfig = from_py(py, config, "Rejected", "invalid_input")?;
    let m = member_of(py, member)?;
    value::convert_points(&c, &m, op_id, now, points).map(decision).map_err(|e| rejected(py, &e))
}

#[pyfunction]
#[pyo3(signature = (club_id, price, member, *, op_id, now))]
fn buy_voucher(py: Python<'_>, club_id: i64, price: &Bound<'_, PyAny>, member: &Bound<'_, PyAny>, op_id: i64, now: i64) -> PyResult<DecisionObj> {
    let p: VoucherPrice = from_py(py, price, "Rejected", "invalid_input")?;
    let m = member_of(py, member)?;
    value::buy_voucher(club_id, &p, &m, op_id, now).map(decision).map_err(|e| rejected(py, &e))
}

fn account_of(py: Python<'_>, text: &str) -> PyResult<AccountKey> {
    text.parse().map_err(|_| rejected(py, &CoreError::new("unknown_account").with("account", text)))
}

#[pyfunction]
#[pyo3(signature = (member, *, op_id, now, account, amount, source, expires_days = None))]
#[allow(clippy::too_many_arguments)]
fn charge(
    py: Python<'_>,
    member: &Bound<'_, PyAny>,
    op_id: i64,
    now: i64,
    account: &str,
    amount: i64,
    source: &Bound<'_, PyAny>,
    expires_days: Option<i64>,
) -> PyResult<DecisionObj> {
    let m = member_of(py, member)?;
    let src: ChargeSource = from_py(py, source, "Rejected", "invalid_input")?;
    value::charge(&m, op_id, now, account_of(py, account)?, amount, src, expires_days).map(decision).map_err(|e| rejected(py, &e))
}

#[pyfunction]
#[pyo3(signature = (club_id, member, *, op_id, now, account, delta, expires_days = None))]
#[allow(clippy::too_many_arguments)]
fn adjust(py: Python<'_>, club_id: i64, member: &Bound<'_, PyAny>, op_id: i64, now: i64, account: &str, delta: i64, expires_days: Option<i64>) -> PyResult<DecisionObj> {
    let m = member_of(py, member)?;
    value::adjust(club_id, &m, op_id, now, account_of(py, account)?, delta, expires_days).map(decision).map_err(|e| rejected(py, &e))
}

#[pyfunction]
#[pyo3(signature = (club_id, member, *, op_id, now))]
fn expire(py: Python<'_>, club_id: i64, member: &Bound<'_, PyAny>, op_id: i64, now: i64) -> PyResult<DecisionObj> {
    let m = member_of(py, member)?;
    Ok(decision(value::expire(club_id, &m, op_id, now)))
}

/// Close a tier period for a whole club; columns in, columns out (`tier`, `reason`, `grace_used`,
/// `deducted_points`), with reasons as names.
#[pyfunction]
#[pyo3(signature = (config, *, tier, period_points, period_end, grace_used = None, frozen_until = None, manual_tier = None))]
#[allow(clippy::too_many_arguments)]
fn close_tier_period<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    tier: Vec<i32>,
    period_points: Vec<i64>,
    period_end: i64,
    grace_used: Option<Vec<i32>>,
    frozen_until: Option<Vec<i64>>,
    manual_tier: Option<Vec<i32>>,
) -> PyResult<Bound<'py, PyDict>> {
    let c: TierConfig = from_py(py, config, "Rejected", "invalid_tier_config")?;
    let n = tier.len();
    let grace_used = grace_used.unwrap_or_else(|| vec![0; n]);
    let frozen_until = frozen_until.unwrap_or_else(|| vec![0; n]);
    let manual_tier = manual_tier.unwrap_or_else(|| vec![-1; n]);
    let input = TierInput { tier: &tier, period_points: &period_points, grace_used: &grace_used, frozen_until: &frozen_until, manual_tier: &manual_tier };
    let out = py.detach(|| tiers::close_period(&c, &input, period_end)).map_err(|e| rejected(py, &e))?;
    let result = PyDict::new(py);
    result.set_item("tier", out.tier)?;
    result.set_item("reason", out.reason.iter().map(|r| tiers::REASONS[*r as usize]).collect::<Vec<_>>())?;
    result.set_item("grace_used", out.grace_used)?;
    result.set_item("deducted_points", out.deducted_points)?;
    Ok(result)
}

/// Split `total` by `weights`, adding up exactly (largest remainder, ties to the earlier weight).
#[pyfunction]
fn split_amount(py: Python<'_>, total: i64, weights: Vec<i64>) -> PyResult<Vec<i64>> {
    if total < 0 || weights.iter().any(|w| *w < 0) {
        return Err(rejected(py, &CoreError::new("amount_must_be_positive")));
    }
    Ok(money::split_largest_remainder(total, &weights))
}

/// The core's own rejection codes with their English and Persian message templates.
#[pyfunction]
fn error_codes() -> Vec<(&'static str, &'static str, &'static str)> {
    errors::ERRORS.to_vec()
}

/// Every code kimia can raise, whatever layer raises it, in precedence order (most fundamental
/// first): dicts of code, precedence, origin, en, fa and unreachable (why no input reaches it, or "").
#[pyfunction]
fn error_catalogue(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    errors::CATALOGUE
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let entry = PyDict::new(py);
            entry.set_item("code", spec.code)?;
            entry.set_item("precedence", i + 1)?;
            entry.set_item("origin", spec.origin.name())?;
            entry.set_item("en", spec.en)?;
            entry.set_item("fa", spec.fa)?;
            entry.set_item("unreachable", spec.unreachable)?;
            Ok(entry)
        })
        .collect()
}

/// (code, English template, Persian template).
type Template = (&'static str, &'static str, &'static str);

/// Every explanation code and every condition name, with English and Persian templates.
#[pyfunction]
fn explanation_codes() -> (Vec<Template>, Vec<Template>) {
    (errors::EXPLANATIONS.to_vec(), errors::CONDITIONS.to_vec())
}

/// The Gregorian date of a Jalali date; a date that does not exist raises `Rejected` (invalid_input).
#[pyfunction]
fn jalali_to_gregorian(py: Python<'_>, year: i64, month: i64, day: i64) -> PyResult<(i64, i64, i64)> {
    let date = format!("{year:04}-{month:02}-{day:02}");
    if !(1..=9999).contains(&year) || calendar::parse_day(&date, true).is_none() {
        return Err(rejected(py, &CoreError::new("invalid_input").with_text("detail", format!("{date} is not a Jalali date"), format!("{} تاریخ شمسی معتبری نیست", crate::explain::persian_digits(&date)))));
    }
    Ok(calendar::jalali_to_gregorian(year, month, day))
}

/// The Jalali date of a Gregorian date; a date that does not exist raises `Rejected` (invalid_input).
#[pyfunction]
fn gregorian_to_jalali(py: Python<'_>, year: i64, month: i64, day: i64) -> PyResult<(i64, i64, i64)> {
    let date = format!("{year:04}-{month:02}-{day:02}");
    if !(1..=9999).contains(&year) || calendar::parse_day(&date, false).is_none() {
        return Err(rejected(py, &CoreError::new("invalid_input").with_text("detail", format!("{date} is not a Gregorian date"), format!("{} تاریخ میلادی معتبری نیست", crate::explain::persian_digits(&date)))));
    }
    Ok(calendar::gregorian_to_jalali(year, month, day))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Rulebook>()?;
    m.add_class::<Member>()?;
    m.add_class::<DecisionObj>()?;
    m.add_class::<AccountInfo>()?;
    m.add_function(wrap_pyfunction!(account_info, m)?)?;
    m.add_function(wrap_pyfunction!(floor, m)?)?;
    m.add_function(wrap_pyfunction!(spent_lot_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(kinds_of, m)?)?;
    m.add_function(wrap_pyfunction!(apply, m)?)?;
    m.add_function(wrap_pyfunction!(batch_rows, m)?)?;
    m.add_function(wrap_pyfunction!(reverse, m)?)?;
    m.add_function(wrap_pyfunction!(convert_points, m)?)?;
    m.add_function(wrap_pyfunction!(hold, m)?)?;
    m.add_function(wrap_pyfunction!(invert, m)?)?;
    m.add_function(wrap_pyfunction!(complete_hold, m)?)?;
    m.add_function(wrap_pyfunction!(cancel_hold, m)?)?;
    m.add_function(wrap_pyfunction!(buy_voucher, m)?)?;
    m.add_function(wrap_pyfunction!(charge, m)?)?;
    m.add_function(wrap_pyfunction!(adjust, m)?)?;
    m.add_function(wrap_pyfunction!(expire, m)?)?;
    m.add_function(wrap_pyfunction!(close_tier_period, m)?)?;
    m.add_function(wrap_pyfunction!(split_amount, m)?)?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(error_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(explanation_codes, m)?)?;
    m.add_function(wrap_pyfunction!(jalali_to_gregorian, m)?)?;
    m.add_function(wrap_pyfunction!(gregorian_to_jalali, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
