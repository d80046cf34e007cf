"""The window as the admin left it: size, panes, splitter, columns, sort, UTC and BOM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit_viewer.ui.settings import WindowSettings

if TYPE_CHECKING:
    from audit_viewer.ui.main_window import MainWindow


def restore(window: MainWindow, settings: WindowSettings) -> None:
    """Apply what :func:`save` kept (a first start keeps the defaults)."""
    for saved, apply in (
        (settings.geometry(), window.restoreGeometry),
        (settings.window_state(), window.restoreState),
        (settings.splitter_state(), window.splitter.restoreState),
    ):
        if saved is not None:
            apply(saved)
    acts = window.acts
    acts.timeline.setChecked(settings.timeline_visible())
    acts.detail.setChecked(settings.detail_visible())
    window.timeline.setVisible(settings.timeline_visible())
    window.detail.setVisible(settings.detail_visible())
    acts.bom.setChecked(settings.bom())
    acts.utc.setChecked(window.utc)
    window.model.set_utc(window.utc)
    window.layout_state.reset()
    table = settings.table_state()
    if table is not None:
        window.layout_state.apply(table)
    window.table.setSortingEnabled(True)


def save(window: MainWindow, settings: WindowSettings) -> None:
    acts = window.acts
    settings.save_window(window.saveGeometry(), window.saveState(), window.splitter.saveState())
    settings.set_panes(timeline=acts.timeline.isChecked(), detail=acts.detail.isChecked())
    settings.set_utc(window.utc)
    settings.set_bom(acts.bom.isChecked())
    settings.set_table_state(window.layout_state.state())
    settings.sync()
