"""Subscriptions & plans (Manage > Unsubscribe) and Usage & billing (workspace capacity,
invoices, usage): the API's own operations, so a cancel runs its durable workflow."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.console.auth import AdminDep, FormDep
from api.console.render import page, see_other
from api.deps import SessionDep, SettingsDep, get_temporal_client
from api.routes import billing as billing_routes
from api.routes import subscriptions as subscription_routes
from store.models import SubscriptionKind, SubscriptionStatus

router = APIRouter()

PAGE_SIZE = 20


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    cursor = request.query_params.get("cursor", "")[:64]
    listing = subscription_routes.list_subscriptions(user.org_id, user.principal, session,
                                                     limit=PAGE_SIZE, cursor=cursor)
    notice = {"done": "The plan was unsubscribed.",
              "pending": "The cancellation is under way: reload in a moment."
              }.get(request.query_params.get("unsubscribed", ""), "")
    return page(request, "subscriptions.html", user, subscriptions=listing.items,
                next_cursor=listing.next_cursor, first_page=not cursor, notice=notice,
                job_plan=SubscriptionKind.JOB_PLAN, active=SubscriptionStatus.ACTIVE)


@router.post("/subscriptions/{sub_id}/unsubscribe")
async def unsubscribe(request: Request, sub_id: str, user: AdminDep, form: FormDep,
                      settings: SettingsDep) -> Response:
    factory = request.app.state.session_factory
    target = await run_in_threadpool(subscription_routes.job_plan_target, user.principal,
                                     user.org_id, sub_id[:64], factory)
    client = await get_temporal_client(request)
    done = await subscription_routes.unsubscribe(target, settings, client, Response())
    return see_other("/console/subscriptions?unsubscribed="
                     + ("pending" if done.pending else "done"))


@router.get("/billing", response_class=HTMLResponse)
def billing_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    cursor = request.query_params.get("cursor", "")[:64]
    usage = billing_routes.list_usage(user.org_id, user.principal, session, limit=PAGE_SIZE,
                                      cursor=cursor if cursor.isdigit() else "")
    invoices = billing_routes.list_invoices(user.org_id, user.principal, session, limit=50)
    subs = subscription_routes.list_subscriptions(user.org_id, user.principal, session,
                                                  limit=200)
    capacity = next((s for s in subs.items if s.kind is SubscriptionKind.WORKSPACE_CAPACITY
                     and s.status is SubscriptionStatus.ACTIVE), None)
    notice = {"done": "The workspace capacity plan was cancelled.",
              "pending": "The cancellation is under way: reload in a moment."
              }.get(request.query_params.get("cancelled", ""), "")
    return page(request, "billing.html", user, usage=usage, invoices=invoices.items,
                capacity=capacity, first_page=not cursor, notice=notice)


@router.post("/billing/workspace-capacity/cancel")
async def cancel_capacity(request: Request, user: AdminDep, form: FormDep,
                          settings: SettingsDep) -> Response:
    target = await run_in_threadpool(subscription_routes.capacity_plan_target, user.principal,
                                     user.org_id, request.app.state.session_factory)
    client = await get_temporal_client(request)
    done = await subscription_routes.cancel_capacity(target, settings, client, Response())
    return see_other("/console/billing?cancelled=" + ("pending" if done.pending else "done"))
