"""The training dock's loss / validation plot: readable tick labels whatever the values."""

from napari_gst.widgets._plot import TrainingPlot


def tick_labels(axes) -> list[str]:
    return [label.get_text() for label in axes.get_yticklabels()]


def test_equal_losses_get_plain_labels_and_no_offset(qtbot):
    plot = TrainingPlot()
    qtbot.addWidget(plot)
    plot.add(1, 13.84, 2.5)
    plot.add(2, 13.84000001, 2.4)
    plot.draw()
    for axes in (plot.loss_axes, plot.mae_axes):
        assert axes.yaxis.get_offset_text().get_text() == ""
    low, high = plot.loss_axes.get_ylim()
    assert low < 13.84 < high and high - low > 1.0  # widened around the equal values
    assert all("e" not in label for label in tick_labels(plot.loss_axes))
    epochs = [tick for tick in plot.loss_axes.get_xticks() if 1 <= tick <= 2]
    assert all(float(tick).is_integer() for tick in epochs)


def test_a_falling_loss_keeps_its_own_range(qtbot):
    plot = TrainingPlot()
    qtbot.addWidget(plot)
    for epoch, loss in enumerate([40.0, 25.0, 12.0], start=1):
        plot.add(epoch, loss, None)
    plot.draw()
    low, high = plot.loss_axes.get_ylim()
    assert low <= 12.0 and 40.0 <= high < 45.0
    assert plot.loss_axes.yaxis.get_offset_text().get_text() == ""
