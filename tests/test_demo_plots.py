"""Issue 17: the demo's loss curves draw each task's baseline; the gradient-flow plot says whether its models
are trained or untrained, and the demo draws both."""

import io

import numpy as np
import pytest

import symrnn
from symrnn import nn
from symrnn.viz.gradient_flow import GradientFlow, gradient_flow, gradient_flow_figure, plot_gradient_flow

matplotlib = pytest.importorskip("matplotlib", reason="the plots need the optional matplotlib (the plot extra)")


def legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def results(with_baseline=True):
    runs = []
    for task, baseline, start in (("adding", 0.167, 1.0), ("sine", 0.054, 0.5)):
        for model in ("rnn", "lstm"):
            run = {"task": task, "model": model, "curve": list(np.linspace(start, start / 10, 60))}
            if with_baseline:
                run["baseline"] = baseline
            runs.append(run)
    return {"tasks": {"adding": "adding problem", "sine": "sine waves"}, "runs": runs}


# --------------------------------------------------------------------------- loss curves


def test_the_loss_curves_draw_each_tasks_baseline_as_a_horizontal_line():
    from symrnn.demo import loss_curve_figure

    fig = loss_curve_figure(results())
    assert [ax.get_title() for ax in fig.axes] == ["adding problem", "sine waves"]
    for ax, want in zip(fig.axes, (0.167, 0.054)):
        [line] = [line for line in ax.get_lines() if line.get_label().startswith("baseline")]
        assert np.allclose(line.get_ydata(), want)  # horizontal, at the baseline MSE
        assert np.allclose(line.get_xdata(), [0, 1]) and line.get_transform() is not ax.transData  # axhline
        assert line.get_linestyle() == "--"
        texts = legend_texts(ax)
        assert texts[:2] == ["rnn", "lstm"] and texts[2] == line.get_label()
        assert f"{want:.3g}" in texts[2]
    assert "mean, 1.0" in legend_texts(fig.axes[0])[2] and "last value" in legend_texts(fig.axes[1])[2]


def test_the_loss_curves_without_a_baseline_draw_none():
    from symrnn.demo import loss_curve_figure

    fig = loss_curve_figure(results(with_baseline=False))
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)
    assert not any("baseline" in text for ax in fig.axes for text in legend_texts(ax))


# --------------------------------------------------------------------------- gradient flow


def flow(label, state, scale=1.0):
    t = np.arange(1, 6)
    return GradientFlow(label, t, scale * np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0]), state)


def test_gradient_flow_says_whether_its_models_are_trained():
    cells = {"RNN": nn.RNNCell(2, 4, seed=0), "LSTM": nn.LSTMCell(2, 4, seed=0)}
    assert {f.state for f in gradient_flow(cells, T=4, trained=False).values()} == {"untrained"}
    assert gradient_flow(cells["RNN"], T=4, trained=True).state == "trained"
    assert gradient_flow(cells["RNN"], T=4).state is None


def test_a_plot_of_both_states_has_one_panel_each_with_the_same_colours():
    flows = [flow("RNN", "untrained"), flow("LSTM", "untrained"), flow("LSTM", "trained", 2), flow("RNN", "trained")]
    fig = gradient_flow_figure(flows, title="flows")
    left, right = fig.axes
    assert left.get_title() == "untrained models (at initialization)" and right.get_title() == "trained models"
    assert fig._suptitle.get_text() == "flows"
    assert legend_texts(left) == ["RNN", "LSTM"] and legend_texts(right) == ["LSTM", "RNN"]
    colour = {(ax, line.get_label()): line.get_color() for ax in (left, right) for line in ax.get_lines()}
    assert colour[left, "RNN"] == colour[right, "RNN"] != colour[left, "LSTM"] == colour[right, "LSTM"]
    [trained_lstm] = [line for line in right.get_lines() if line.get_label() == "LSTM"]
    assert np.allclose(trained_lstm.get_ydata(), 2 * flows[0].norms)
    assert left.get_yscale() == "log" and left.get_shared_y_axes().joined(left, right)


def test_a_plot_of_one_state_says_which_in_its_title():
    for state, words in (("untrained", "untrained models (at initialization)"), ("trained", "trained models")):
        [ax] = gradient_flow_figure({"RNN": flow("RNN", state)}).axes
        assert ax.get_title().endswith("\n" + words)
    [ax] = gradient_flow_figure(flow("RNN", None), title="plain").axes
    assert ax.get_title() == "plain"  # the state is not known: nothing is claimed


def test_the_svg_of_both_states_names_them(tmp_path):
    before = matplotlib.get_backend()
    path = plot_gradient_flow([flow("GRU", "untrained"), flow("GRU", "trained")], tmp_path / "flow.svg")
    text = open(path).read()
    assert "untrained models (at initialization)" in text and ">trained models<" in text.replace(" <", "<")
    assert matplotlib.get_backend() == before  # no matplotlib.use in the library


# --------------------------------------------------------------------------- the demo


def test_the_demos_untrained_models_are_the_trained_ones_at_initialization():
    from symrnn.demo import MODELS, TASKS, build_model, make_cell

    old = symrnn.config.floatX
    symrnn.config.floatX = "float32"
    try:
        for model in MODELS:
            built = build_model(TASKS[0], model, seed=3)
            fresh = make_cell(model, TASKS[0].make_batch(np.random.default_rng(0), 1)[0].shape[2], 3)
            assert list(fresh.params) == list(built["cell"].params)
            for name, var in fresh.params.items():
                np.testing.assert_array_equal(var.get_value(), built["cell"].params[name].get_value())
    finally:
        symrnn.config.floatX = old


def test_the_demo_writes_both_plots_and_the_gradient_flow_of_both_states(tmp_path, monkeypatch):
    from symrnn import demo

    drawn = []
    real = demo.viz.plot_gradient_flow

    def spy(flows, filename, title=None):
        drawn.append(list(flows))
        return real(flows, filename, title=title)

    monkeypatch.setattr(demo.viz, "plot_gradient_flow", spy)
    out = tmp_path / "out"
    stream = io.StringIO()
    demo.run_demo(out=str(out), steps=3, models=("rnn", "lstm"), progress=False, stream=stream)
    for name in ("loss_curves.png", "gradient_flow.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in stream.getvalue()
    [flows] = drawn
    assert [(f.label, f.state) for f in flows] == [("rnn", "untrained"), ("lstm", "untrained"),
                                                   ("rnn", "trained"), ("lstm", "trained")]
    # training changed the models, so their curves differ from the ones at initialization
    assert not np.allclose(flows[0].norms, flows[2].norms) and not np.allclose(flows[1].norms, flows[3].norms)
    assert all(len(f.norms) == 30 for f in flows)  # the adding task's sequences
